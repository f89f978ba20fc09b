#!/usr/bin/env bash
# bind_keystore.sh again, with every core call going through hsmcached (the agent):
# a plugin behaves the same embedded or over the agent. Only the agent
# reaches the token (HC_AGENT_ONLY, see agent_start in tests/lib/env.sh):
# the hosts get an empty SoftHSM store, so a plugin that ignored
# `[core] agent` fails outright; agent_used, the last check, shows the
# agent's counters hold the hosts' signatures.
HC_AGENT=1 HC_AGENT_ONLY=1 exec bash "$(dirname "$0")/bind_keystore.sh"
