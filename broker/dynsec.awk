# Translates the ACL template broker/acl into the configuration of mosquitto's dynamic security plugin
# (run by broker/run-broker.sh): one client and one role per identity in EP_IDENTITIES ("name:role ...") or,
# one per line, in the file EP_IDENTITIES_FILE,
# @PREFIX@ replaced by EP_PREFIX. With EP_OUTPUT=commands, the same as createRole/createClient commands
# for the plugin's control topic instead (broker/add-clients.sh). Fails on any line it does not
# understand rather than drop a rule.
function fail(message) { print "run-broker.sh: " FILENAME ":" FNR ": " message > "/dev/stderr"; failed = 1; exit 1 }
function add(list, access, topic) { n = ++count[list]; acc[list, n] = access; top[list, n] = topic }
function emit(acltype, topic, allow,    key) {
    key = acltype SUBSEP topic
    if (key in seen) return  # the first (a deny, when there is one) decides; dynsec keys ACLs by topic
    seen[key] = 1
    printf "%s\n        {\"acltype\": \"%s\", \"topic\": \"%s\", \"allow\": %s, \"priority\": %d}", \
        (acls++ ? "," : ""), acltype, topic, allow ? "true" : "false", allow ? 1 : 2
}
function rule(access, topic, name) {
    gsub(/@NAME@/, name, topic)
    gsub(/%u/, name, topic)
    gsub(/%c/, name, topic)  # the client id is the CN too (use_username_as_clientid)
    if (topic !~ /^[A-Za-z0-9._\/+#$-]+$/) fail("unexpected characters in topic '" topic "'")
    if (access == "deny") {
        emit("publishClientSend", topic, 0); emit("publishClientReceive", topic, 0)
        emit("subscribePattern", topic, 0); emit("subscribePattern", "$share/+/" topic, 0)
    }
    if (access == "write" || access == "readwrite") emit("publishClientSend", topic, 1)
    if (access == "read" || access == "readwrite") {
        # Subscribing is allowed exactly to filters inside what the identity may read, shared or not.
        emit("publishClientReceive", topic, 1)
        emit("subscribePattern", topic, 1); emit("subscribePattern", "$share/+/" topic, 1)
    }
}
# The ACL entries of identity `name` in role `r`: denies first (they also win by priority), then the
# role's grants, then the patterns.
function role_acls(name, r,    j) {
    acls = 0; delete seen
    for (j = 1; j <= count[r]; j++) if (acc[r, j] == "deny") rule("deny", top[r, j], name)
    for (j = 1; j <= count[r]; j++) if (acc[r, j] != "deny") rule(acc[r, j], top[r, j], name)
    for (j = 1; j <= count["pattern"]; j++) rule(acc["pattern", j], top["pattern", j], name)
}
/^#@role / { role = $2; next }
/^#@end/ { role = ""; next }
/^#/ || /^[ \t]*$/ { next }
{
    gsub(/@PREFIX@/, ENVIRON["EP_PREFIX"])
    if (NF == 2 && $1 == "topic") { access = "readwrite"; topic = $2 }
    else if (NF == 3 && ($1 == "topic" || $1 == "pattern") && $2 ~ /^(read|write|readwrite|deny)$/) { access = $2; topic = $3 }
    else if (NF == 2 && $1 == "user" && role != "") next
    else fail("unsupported line: " $0)
    if ($1 == "pattern") { if (role != "") fail("pattern inside a role block"); add("pattern", access, topic) }
    else { if (role == "") fail("topic outside a role block"); add(role, access, topic) }
}
END {
    if (failed) exit 1
    if (ENVIRON["EP_IDENTITIES_FILE"] != "") {
        # One "name:role" per line (run-broker.sh: any number of agents).
        n = 0
        while ((getline line < ENVIRON["EP_IDENTITIES_FILE"]) > 0) if (line != "") identities[++n] = line
        close(ENVIRON["EP_IDENTITIES_FILE"])
    } else {
        n = split(ENVIRON["EP_IDENTITIES"], identities, " ")
    }
    if (ENVIRON["EP_OUTPUT"] == "commands") {
        # For a running broker: one createRole and one createClient command per identity.
        printf "{\"commands\": ["
        for (i = 1; i <= n; i++) {
            split(identities[i], parts, ":")
            printf "%s\n  {\"command\": \"createRole\", \"rolename\": \"%s\", \"acls\": [", (i > 1 ? "," : ""), parts[1]
            role_acls(parts[1], parts[2])
            printf "\n  ]},\n  {\"command\": \"createClient\", \"username\": \"%s\", \"textname\": \"%s\", \"roles\": [{\"rolename\": \"%s\"}]}", \
                parts[1], parts[2], parts[1]
        }
        print "\n]}"
        exit 0
    }
    print "{"
    print "  \"defaultACLAccess\": {\"publishClientSend\": false, \"publishClientReceive\": false, \"subscribe\": false, \"unsubscribe\": true},"
    printf "  \"clients\": ["
    for (i = 1; i <= n; i++) {
        split(identities[i], parts, ":")
        printf "%s\n    {\"username\": \"%s\", \"textname\": \"%s\", \"roles\": [{\"rolename\": \"%s\"}]}", \
            (i > 1 ? "," : ""), parts[1], parts[2], parts[1]
    }
    print "\n  ],"
    printf "  \"roles\": ["
    for (i = 1; i <= n; i++) {
        split(identities[i], parts, ":")
        printf "%s\n    {\"rolename\": \"%s\", \"acls\": [", (i > 1 ? "," : ""), parts[1]
        role_acls(parts[1], parts[2])
        printf "\n    ]}"
    }
    print "\n  ]"
    print "}"
}
