module goro.bench/gobench

go 1.21
