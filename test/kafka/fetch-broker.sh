#!/usr/bin/env bash
# Fetches the Apache Kafka broker that the Kafka tests run (test/support/kafka-harness.ts): the jars that
# test/kafka/pom.xml lists, with all their runtime dependencies, from Maven Central into a cache outside
# the checkout, $HOME/.cache/sluice-ci/kafka/<version> (KAFKA_LIBS_DIR moves it; the name has no SLUICE_
# prefix, because the server refuses unknown SLUICE_* variables). Needs Maven and a Java 17 or later.
# Idempotent: with the cache complete it does nothing. Arguments go to mvn (e.g. -Dmaven.repo.local=...).
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
version="$(sed -n 's:.*<kafka.version>\(.*\)</kafka.version>.*:\1:p' "$here/pom.xml")"
libs="${KAFKA_LIBS_DIR:-$HOME/.cache/sluice-ci/kafka/$version}"

if [[ -f "$libs/.complete" ]]; then
  echo "kafka $version: cached in $libs"
  exit 0
fi
command -v mvn >/dev/null || { echo "fetch-broker.sh: mvn (Maven) is needed to fetch Kafka" >&2; exit 1; }

# Into a directory of its own, renamed into place at the end, so that an interrupted run leaves no
# half-filled cache behind and two runs side by side do not mix their files.
mkdir -p "$(dirname "$libs")"
partial="$(mktemp -d "$libs.partial.XXXXXX")"
trap 'rm -rf "$partial"' EXIT
echo "kafka $version: fetching from Maven Central into $libs"
# Maven writes its errors to stdout (and, with -q, little else): shown only when it fails.
if ! mvn -B -q --no-transfer-progress -Dstyle.color=never -f "$here/pom.xml" dependency:copy-dependencies \
  -DincludeScope=runtime -DoutputDirectory="$partial" "$@" >"$partial/mvn.log" 2>&1; then
  cat "$partial/mvn.log" >&2
  echo "fetch-broker.sh: mvn failed to fetch Kafka $version" >&2
  exit 1
fi
rm "$partial/mvn.log"
[[ -f "$partial/kafka_2.13-$version.jar" ]] || { echo "fetch-broker.sh: kafka_2.13-$version.jar is missing from the fetched jars" >&2; exit 1; }
touch "$partial/.complete"
# Another run may have finished first: its jars, maybe in use already, stay.
if [[ -f "$libs/.complete" ]]; then
  echo "kafka $version: cached in $libs"
  exit 0
fi
rm -rf "$libs"
mv "$partial" "$libs"
trap - EXIT
echo "kafka $version: $(find "$libs" -name '*.jar' | wc -l) jars in $libs"
