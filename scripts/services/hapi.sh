# shellcheck shell=bash
# HAPI HL7 v2 2.5.1 (hapi-base, hapi-structures-v26) for the HL7 test harnesses under test/hl7/hapi/:
# the hospital interface engine's side of the ADT feed (issue 21). Not a server: only jars, resolved
# like Kafka's and Cassandra's (scripts/services/hapi/pom.xml, cached outside the repository).
# Sourced by services.sh, which sets HERE, CACHE, M2 and JAVA.

# Prints the runtime classpath (colon-separated jar paths) of the HAPI harness.
hapi_classpath() {
  local cp_file
  cp_file=$(fetch_classpath hapi)
  tr -d '\n' <"$cp_file"
}
