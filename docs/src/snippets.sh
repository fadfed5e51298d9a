#!/bin/bash
# Recreate the broken snippets used by the docs in ${DEMO:-/tmp/flowsim-doc-snippets}.
set -e
rm -rf ${DEMO:-/tmp/flowsim-doc-snippets} && mkdir -p ${DEMO:-/tmp/flowsim-doc-snippets}/examples/tutorial && cd ${DEMO:-/tmp/flowsim-doc-snippets}
cat > sales.flow <<'X'
role rep "Sales rep" headcount 2

stage qualify "Qualify" {
  owner reps
  goal "Qualify the lead"
  exit "Budget confirmed"
}

outcome won
outcome lost

qualify -> won 30%
qualify -> lost
X
cat > 销售.flow <<'X'
role 销售代表 headcount 2
stage 初步接触 “初步接触” owner 销售代 goal “了解需求” exit “预算已确认”
outcome 成交
初步接触 -> 成交
X
cat > semicolon.flow <<'X'
stage qualify "Qualify" {
  goal "Qualify the lead"；
}
X
cat > keyword.flow <<'X'
stage goal "Goal setting"
outcome done
goal -> done
X
# The tutorial's typo: step 2 with `owner reps` in the second stage.
awk 'BEGIN{n=0} /^  owner rep$/{n++; if(n==2){print "  owner reps"; next}} {print}' \
  /work/main/examples/tutorial/step2.flow > examples/tutorial/step2.flow
grep -q 'owner reps' examples/tutorial/step2.flow
