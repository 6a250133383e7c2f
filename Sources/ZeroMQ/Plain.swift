import CZeroMQ

/// ZeroMQ's PLAIN mechanism (RFC 24): the client presents a user name and a password in the
/// handshake, and the server's ZAP handler accepts or refuses them. Nothing is encrypted, so it is
/// for loopback (the coordinator refuses to bind beyond it without CURVE); what it buys is that no
/// peer without a credential gets a single message.
extension ZMQSocket {
    /// Makes this socket a PLAIN server: every peer must present credentials, which the ZAP handler
    /// of `zapDomain` accepts or refuses. Call before `bind`.
    public func makePlainServer(zapDomain: String) throws {
        try setInt(ZMQ_PLAIN_SERVER, 1)
        try setBytes(ZMQ_ZAP_DOMAIN, Array(zapDomain.utf8))
    }

    /// Makes this socket a PLAIN client. Call before `connect`.
    public func makePlainClient(username: String, password: String) throws {
        try setBytes(ZMQ_PLAIN_USERNAME, Array(username.utf8))
        try setBytes(ZMQ_PLAIN_PASSWORD, Array(password.utf8))
    }
}
