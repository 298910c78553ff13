module gorthttpbench

go 1.19
