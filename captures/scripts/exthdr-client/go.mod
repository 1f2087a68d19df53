module certwire-captures/exthdr-client

go 1.19
