"""`nudge demo`: the example trial end to end on a simulated clock, then its results served.

Part of the shell (like `nudge/cli` and `nudge/web`): it wires the real services together
(enrolment, the outbox and dispatcher, the webhooks over real HTTP, hearings updates, outcomes
import, the analysis) and adds only what a demo needs that a trial does not: synthetic people,
simulated replies, court-list changes and outcomes, and a clock that jumps to each next send.
"""
