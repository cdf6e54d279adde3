# mirror.sh - sourced by the end-to-end scripts: the live path of a tap node.
#
# qg_mirror_path NODE_NS C S B: a client namespace C (c0 198.18.0.1/24) and a server namespace
# S (s0 198.18.0.5/24) on a bridge in namespace B whose client port is mirrored (tc mirred, both
# directions) to mb, whose peer m0 is put in NODE_NS (up, no IPv6): the tap node's interface.
# Checksums are computed on the veths (the node verifies them). Creates C, S and B (the caller
# deletes them); NODE_NS must exist. Returns non-zero if a step failed.
qg_mirror_path() {
    (
        set -e
        for n in "$2" "$3" "$4"; do
            ip netns add "$n"
            ip -n "$n" link set lo up
        done
        ip -n "$4" link add br0 type bridge
        ip -n "$4" link add cb type veth peer name c0 netns "$2"
        ip -n "$4" link add sb type veth peer name s0 netns "$3"
        ip -n "$4" link add mb type veth peer name m0 netns "$1"
        for p in cb sb mb; do
            ip -n "$4" link set "$p" master br0
            ip -n "$4" link set "$p" up
        done
        ip -n "$4" link set br0 up
        bridge -n "$4" link set dev mb learning off flood off mcast_flood off
        ip netns exec "$4" tc qdisc add dev cb clsact
        for dir in ingress egress; do
            ip netns exec "$4" tc filter add dev cb "$dir" protocol all u32 match u32 0 0 \
                action mirred egress mirror dev mb
        done
        ip netns exec "$1" sysctl -qw net.ipv6.conf.m0.disable_ipv6=1
        ip -n "$1" link set m0 up
        ip -n "$2" addr add 198.18.0.1/24 dev c0
        ip -n "$2" link set c0 up
        ip -n "$3" addr add 198.18.0.5/24 dev s0
        ip -n "$3" link set s0 up
        # packets generated on a veth carry only the pseudo-header sum (checksum offload), which
        # the node (checksums = verify) takes for a fake: compute real sums
        ip netns exec "$2" ethtool -K c0 tx off >/dev/null
        ip netns exec "$3" ethtool -K s0 tx off >/dev/null
    )
}
