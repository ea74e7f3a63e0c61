module github.com/nixctl/nixctl

go 1.25.8
