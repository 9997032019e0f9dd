# uvfleet.uv developer entry points. Run as root on Debian 12 (see README.md).
#   make demo   converge the site playbook on a throwaway container, show the result
#   make test   everything CI runs: lint, sanity, unit tests, every Molecule scenario
SHELL := /bin/bash
.SHELLFLAGS := -eu -o pipefail -c
REPO := $(abspath .)
VENV := $(REPO)/.venv
COLLECTIONS := $(REPO)/build/collections
export CONTAINERS_CONF := $(REPO)/tests/podman/containers.conf
export UVFLEET_COLLECTIONS_PATH := $(COLLECTIONS)
export ANSIBLE_COLLECTIONS_PATH := $(COLLECTIONS)
export PATH := $(VENV)/bin:$(PATH)
export PYTHONPATH := $(COLLECTIONS)

# Scenarios in the order `make test` runs them; override: make molecule SCENARIOS=install
SCENARIOS ?= install repair default no_acl cluster clone content pythons_tools maintenance
IMAGES ?= 11 12 13

.PHONY: all test host venv layout images lint sanity units molecule demo clean bench docsite strategies
all: test

test: lint sanity units docsite molecule demo

host:
	bash tests/setup-host.sh

# The venv is rebuilt whenever the pins change.
$(VENV)/.stamp: requirements-dev.txt
	python3 -m venv $(VENV)
	$(VENV)/bin/pip install -q -r requirements-dev.txt
	touch $@
venv: host $(VENV)/.stamp

# ansible_collections/uvfleet/uv -> this checkout, so that FQCNs resolve.
layout:
	mkdir -p $(COLLECTIONS)/ansible_collections/uvfleet
	ln -sfn $(REPO) $(COLLECTIONS)/ansible_collections/uvfleet/uv

images: host
	bash tests/images/build.sh $(IMAGES)

lint: venv layout
	ansible-lint
	antsibull-changelog lint

sanity: venv
	bash tests/sanity/run.sh

units: venv layout
	python -m pytest tests/unit -q -p no:cacheprovider

molecule: venv layout images
	@passed=0; failed=0; failures=""; \
	for s in $(SCENARIOS); do \
	  echo "=== molecule scenario $$s ==="; start=$$(date +%s); \
	  if molecule test -s $$s; then passed=$$((passed+1)); result=passed; \
	  else failed=$$((failed+1)); failures="$$failures $$s"; result=FAILED; molecule destroy -s $$s >/dev/null 2>&1 || true; fi; \
	  echo "=== scenario $$s $$result in $$(( $$(date +%s) - start )) s ==="; \
	done; \
	[ -z "$$failures" ] || echo "failed scenarios:$$failures"; \
	echo "molecule scenarios: $$passed passed, $$failed failed"; \
	[ $$failed -eq 0 ]

demo: venv layout
	$(MAKE) images IMAGES=12
	bash tests/demo.sh

# The collection docsite (antsibull-docs + Sphinx, warnings as errors): build/docsite.
docsite: venv layout
	bash tests/docsite/build.sh

# The strategies table of docs/strategies.md, measured in throwaway containers (~15 min).
strategies: venv layout
	$(MAKE) images IMAGES=12
	python bench/strategies.py

bench: venv layout
	python bench/run.py

clean:
	-for s in $(SCENARIOS); do molecule destroy -s $$s; done
	rm -rf build
