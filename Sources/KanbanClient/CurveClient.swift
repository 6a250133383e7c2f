import Foundation
import ZeroMQ

/// What a client needs to talk to a coordinator that runs CURVE: the server's public key, and the
/// client's own keypair (whose public key the coordinator knows as the admin's or a lane's).
public struct CurveCredentials: Sendable {
    public var serverKey: String
    public var keys: CurveKeyPair

    public init(serverKey: String, keys: CurveKeyPair) {
        self.serverKey = serverKey
        self.keys = keys
    }

    /// From the environment, as a spawned worker gets it and as scripts set it:
    /// `KANBAN_CURVE_SERVER_KEY` (a key or a key file) plus either `KANBAN_CURVE_SECRET_KEY` (the
    /// client's secret key) or `KANBAN_CURVE_KEY_FILE` (the client's `.key` file). Nil when unset.
    public static func fromEnvironment(_ env: [String: String] = ProcessInfo.processInfo.environment) throws -> CurveCredentials? {
        guard let server = env["KANBAN_CURVE_SERVER_KEY"], !server.isEmpty else { return nil }
        return try load(serverKey: server, clientKey: env["KANBAN_CURVE_KEY_FILE"], secretKey: env["KANBAN_CURVE_SECRET_KEY"])
    }

    /// Command-line flags first, the environment for whatever they leave out; nil when neither
    /// names a server key (the coordinator then runs without CURVE).
    public static func resolve(serverKey: String?, clientKey: String?,
                               env: [String: String] = ProcessInfo.processInfo.environment) throws -> CurveCredentials? {
        func nonEmpty(_ s: String?) -> String? { (s?.isEmpty ?? true) ? nil : s }
        guard let server = nonEmpty(serverKey) ?? nonEmpty(env["KANBAN_CURVE_SERVER_KEY"]) else { return nil }
        if let file = nonEmpty(clientKey) { return try load(serverKey: server, clientKey: file) }
        return try load(serverKey: server, clientKey: env["KANBAN_CURVE_KEY_FILE"], secretKey: env["KANBAN_CURVE_SECRET_KEY"])
    }

    /// From a server key (or key file) and the client's `.key` file or secret key.
    public static func load(serverKey: String, clientKey keyFile: String?, secretKey: String? = nil) throws -> CurveCredentials {
        let server = try CurveKeyFile.publicKey(serverKey)
        if let secretKey, !secretKey.isEmpty {
            return CurveCredentials(serverKey: server, keys: try CurveKeyPair.fromSecret(secretKey))
        }
        guard let keyFile, !keyFile.isEmpty else {
            throw CurveKeyFile.Failure(description: "a CURVE server key was given but no client key: pass the client's .key file "
                                       + "(--curve-key or KANBAN_CURVE_KEY_FILE)")
        }
        return CurveCredentials(serverKey: server, keys: try CurveKeyFile.readKeyPair(keyFile))
    }

    /// Makes `socket` a CURVE client with these credentials (before it connects).
    public func apply(to socket: ZMQSocket) throws {
        try socket.makeCurveClient(serverKey: serverKey, keys: keys)
    }
}
