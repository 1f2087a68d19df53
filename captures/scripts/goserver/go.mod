module certwire.example/goserver

go 1.19
