#!/bin/sh
# Installs the Swagger 2.0 validator the API tests use (@apidevtools/swagger-parser to load and
# dereference the spec, ajv to check bodies against its schemas) from the npm registry into
# ${MOTE_NPM_CACHE:-~/.cache/mote/npm}, outside the tree. Idempotent: does nothing when present.
# Prints the directory on success; exits 1 with a reason when npm or the registry is missing.
set -eu
DIR=${MOTE_NPM_CACHE:-$HOME/.cache/mote/npm}
if [ -f "$DIR/node_modules/@apidevtools/swagger-parser/package.json" ] &&
	[ -f "$DIR/node_modules/ajv/package.json" ]; then
	echo "$DIR"
	exit 0
fi
command -v node >/dev/null 2>&1 || { echo "node is not installed" >&2; exit 1; }
command -v npm >/dev/null 2>&1 || { echo "npm is not installed" >&2; exit 1; }
mkdir -p "$DIR"
if ! npm install --silent --no-audit --no-fund --prefix "$DIR" \
	@apidevtools/swagger-parser@10 ajv@8 >"$DIR/install.log" 2>&1; then
	echo "npm install failed (see $DIR/install.log)" >&2
	exit 1
fi
echo "$DIR"
