#!/usr/bin/env bash
# bind_keystore.sh again, with every core call going through hsmcached (the agent):
# a plugin behaves the same embedded or over the agent.
HC_AGENT=1 exec bash "$(dirname "$0")/bind_keystore.sh"
