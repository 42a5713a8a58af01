"""The facts room: pure parsers from what real tools print to typed data, and the registry.

Each module parses one family of tools (`gpu`: nvidia-smi; `hca`: ibstat, ibv_devinfo,
show_gids, ibdev2netdev, ofed_info; `host`: lspci, lsmod, bonding, ip link, systemctl;
`nccl`: nccl-tests; `perftest`; `ibnet`: ibnetdiscover, forwarding tables, the opensm log;
`lldp`: lldpctl). `registry` says which command gathers each fact and how `--tool auto`
recognises it. This room imports nothing of aictl above it but `aictl.status`: every later
stage reads facts through it, and it never needs to know who asks.
"""
