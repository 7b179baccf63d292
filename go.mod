module github.com/keycdc/keycdc

go 1.26
