# natsfan: the commands CI runs (.ci/run) and a developer runs before pushing.
GO ?= go
STATICCHECK := honnef.co/go/tools/cmd/staticcheck@v0.8.2

.PHONY: all test verify bench build run

all: verify test

# Every test, under the race detector (needs a C compiler: cgo).
test:
	$(GO) test -race ./...

# Formatting, vet, staticcheck, and go.mod/go.sum that go mod tidy would not change.
verify:
	@unformatted=$$(gofmt -l $$(git ls-files '*.go')); \
	if [ -n "$$unformatted" ]; then echo "gofmt would change:"; echo "$$unformatted"; exit 1; fi
	$(GO) vet ./...
	$(GO) run $(STATICCHECK) ./...
	$(GO) mod tidy -diff

# Benchmarks of the hot paths, allocations reported; then those of the benchmark
# program's consumer code, in its own module (cmd/natsfan-bench), which ./... does
# not enter. The program itself: go -C cmd/natsfan-bench run . (see the README).
bench:
	$(GO) test -run '^$$' -bench . -benchmem ./...
	$(GO) -C cmd/natsfan-bench test -run '^$$' -bench . -benchmem ./...

build:
	$(GO) build -trimpath -o natsfan ./cmd/natsfan

run:
	$(GO) run ./cmd/natsfan
