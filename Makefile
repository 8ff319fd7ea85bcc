# The two commands of the README:
#   make serve   starts the API on the embedded store (./trainers-data)
#   make test    installs what the tests need and runs every test
.PHONY: serve test tools lint

serve:
	cargo run --release -p trainers-cli -- serve

test:
	bash scripts/test.sh

# Test tools only (DynamoDB-compatible servers, GraphQL clients, the CDK): into tools/ and .venv/.
tools:
	bash scripts/setup-tools.sh

lint:
	cargo fmt --all -- --check
	cargo clippy --workspace --all-targets -- -D warnings
