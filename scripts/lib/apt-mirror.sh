# Sourced by scripts/e2e-env and scripts/vm: apt_mirror prints the machine's own
# Debian mirror (the first one its apt sources name for the main archive, not the
# security one), in either the one-line or the deb822 format.
apt_mirror() {
    {
        grep -hs '^deb ' /etc/apt/sources.list /etc/apt/sources.list.d/*.list |
            sed -E 's/^deb (\[[^]]*\] )?//' | awk '{print $1}'
        grep -hs '^URIs:' /etc/apt/sources.list.d/*.sources | sed 's/^URIs:[[:space:]]*//' | tr ' ' '\n'
    } | grep -v -- '-security' | grep -m1 .
}
