package main

import (
	"flag"
	"fmt"
	"io"
	"log"
	"net/http"
	"time"
)

func main() {
	listen := flag.String("listen", "127.0.0.1:19000", "address to listen on")
	delay := flag.Duration("delay", 0, "time each request waits before it is answered (an API's I/O)")
	flag.Parse()
	body := []byte(`{"accounts":[{"id":"42","balance":"100.00"}]}`)
	srv := &http.Server{
		Addr:              *listen,
		ReadHeaderTimeout: 5 * time.Second,
		IdleTimeout:       2 * time.Minute,
		Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			_, _ = io.Copy(io.Discard, r.Body)
			if *delay > 0 {
				time.Sleep(*delay)
			}
			w.Header().Set("Content-Type", "application/json")
			w.Header().Set("Content-Length", fmt.Sprint(len(body)))
			_, _ = w.Write(body)
		}),
	}
	log.Fatal(srv.ListenAndServe())
}
