import flowsim

process = flowsim.load("examples/tutorial/step5.flow")
print(process.entry.id, [s.id for s in process.stages], [o.id for o in process.outcomes])

# One networkx MultiDiGraph: stages, outcomes, roles, departments, touchpoints ...
g = process.graph
for source, target, data in g.edges(data=True):
    if data["kind"] == "flow":
        print(f"{source} -> {target}: {data['probability']:.0%}")

# A scenario gives a new Process; the original is unchanged (models are immutable).
faster = process.with_scenario("Proposal templates")
print(faster.node("proposal").effort)
print([(t.target, round(p, 2)) for t, p in faster.outgoing("proposal")])

# Back to canonical .flow text.
print(faster.to_flow().splitlines()[0])

# Errors raise FlowError with every diagnostic, rendered like `flowsim check`.
try:
    flowsim.parse("stage a owner reps", filename="typo.flow")
except flowsim.FlowError as err:
    print(err)
