module certwire.example/goclient

go 1.19
