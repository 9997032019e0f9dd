# uvfleet.uv developer entry points. Run as root on Debian 12 (see README.md).
#   make demo   converge the site playbook on a throwaway container, show the result
#   make test   everything CI runs: lint, galaxy-importer, sanity, unit tests, the
#               oldest and newest ansible-core of the matrix, every Molecule scenario
#   make matrix ansible-test sanity + units on every ansible-core the README claims
#   make release cut the release of the version in galaxy.yml (docs/development.md)
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

# Scenarios, the longest first (they start in this order, MOLECULE_JOBS at a time);
# override: make molecule SCENARIOS=install MOLECULE_JOBS=1
SCENARIOS ?= pythons_tools maintenance default install content cluster no_acl clone repair
MOLECULE_JOBS ?= 2
export MOLECULE_JOBS
IMAGES ?= 11 12 13

.PHONY: all test host venv layout images lint sanity units molecule demo clean bench \
	importer release-check matrix matrix-quick matrix-rest python-floor release docsite strategies sharing fleet images-ci
all: test

# ansible-core series of requirements-matrix.txt. `make test` runs the oldest and the
# newest (MATRIX_QUICK); `make matrix` runs them all; .ci/run runs `make test` and then
# `make matrix-rest` (the others): the whole matrix costs about 8-13 minutes.
MATRIX_ALL := $(shell awk '$$1 ~ /^core-/ {sub(/^core-/, "", $$1); print $$1}' requirements-matrix.txt)
MATRIX_QUICK ?= 2.16 2.21
MATRIX ?= $(MATRIX_ALL)

test: lint importer release-check sanity units matrix-quick python-floor docsite molecule images-ci demo

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
	bash tests/sanity/run.sh sanity

units: venv layout
	bash tests/unit/leaves-nothing.sh python -m pytest tests/unit -q -p no:cacheprovider

# The built tarball through galaxy-importer, offline (tests/sanity/importer.sh).
importer: venv
	bash tests/sanity/importer.sh

# ansible-test sanity + units, one venv per ansible-core series (requirements-matrix.txt).
matrix: venv layout
	bash tests/sanity/matrix.sh $(MATRIX)

matrix-quick: venv layout
	bash tests/sanity/matrix.sh $(MATRIX_QUICK)

matrix-rest: venv layout
	bash tests/sanity/matrix.sh $(filter-out $(MATRIX_QUICK),$(MATRIX_ALL))

# The module below, at and above its Python floor, on real interpreters.
python-floor: venv layout
	bash tests/sanity/python_floor.sh

# `make release` cut on a scratch copy and checked, the checkout untouched.
release-check: venv layout
	bash tests/sanity/release_check.sh

# Fold the changelog fragments into CHANGELOG.md for the version in galaxy.yml.
release: venv
	ANTSIBULL_CHANGELOG=$(VENV)/bin/antsibull-changelog bash changelogs/release.sh

# MOLECULE_JOBS scenarios at a time (tests/molecule-scenarios.sh), logs in build/molecule/.
molecule: venv layout images
	bash tests/molecule-scenarios.sh $(SCENARIOS)

# The CI image of docs/images.md: podman build of the page's Containerfile with this
# checkout's collection, then the uv#8032 story in containers of it (tests/images/ci-story).
images-ci: venv layout
	$(MAKE) images IMAGES=12
	bash tests/images/ci-story/run.sh

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

# The sharing figure of docs/sharing.md: 8 users, shared vs per-user caches, link modes,
# on loop-mounted ext4 and XFS (reflink=1) in a throwaway container (~12 min). Not part of `make test`.
sharing: venv layout
	$(MAKE) images IMAGES=12
	python bench/sharing.py

bench: venv layout
	python bench/run.py

# What a converge of uvfleet.uv.site costs per node: 1, 4, 8 nodes, over SSH (pipelining)
# and the podman connection, first and idempotent (docs/benchmarks.md, ~30 min). Not
# part of `make test`.
fleet: venv layout
	$(MAKE) images IMAGES=12
	python bench/fleet.py

clean:
	-for s in $(SCENARIOS); do molecule destroy -s $$s; done
	rm -rf build
