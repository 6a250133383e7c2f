import CZeroMQ
import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// A CURVE keypair in Z85 text (40 characters each), as libzmq makes and takes them.
public struct CurveKeyPair: Equatable, Sendable {
    public let publicKey: String
    public let secretKey: String

    public init(publicKey: String, secretKey: String) {
        self.publicKey = publicKey
        self.secretKey = secretKey
    }

    /// A fresh keypair from libzmq (libsodium's randomness underneath).
    public static func generate() throws -> CurveKeyPair {
        var pub = [CChar](repeating: 0, count: 41), sec = [CChar](repeating: 0, count: 41)
        guard zmq_curve_keypair(&pub, &sec) == 0 else { throw ZMQError("zmq_curve_keypair (is libzmq built with CURVE?)") }
        return CurveKeyPair(publicKey: String(cString: pub), secretKey: String(cString: sec))
    }

    /// The keypair whose secret key is `secretKey`.
    public static func fromSecret(_ secretKey: String) throws -> CurveKeyPair {
        guard Curve.isZ85Key(secretKey) else { throw ZMQError("not a 40-character Z85 CURVE key", code: EINVAL) }
        var pub = [CChar](repeating: 0, count: 41)
        guard zmq_curve_public(&pub, secretKey) == 0 else { throw ZMQError("zmq_curve_public") }
        return CurveKeyPair(publicKey: String(cString: pub), secretKey: secretKey)
    }
}

public enum Curve {
    /// True when the linked libzmq supports CURVE.
    public static var isAvailable: Bool { zmq_has("curve") == 1 }

    /// Z85's 85 characters.
    static let alphabet = Set("0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ.-:+=^!/*?&<>()[]{}@%$#")

    /// True for a 40-character Z85 string: the text form of a 32-byte CURVE key.
    public static func isZ85Key(_ s: String) -> Bool { s.count == 40 && s.allSatisfy(alphabet.contains) }

    /// The Z85 text of a 32-byte binary key (ZAP hands keys over in binary).
    public static func z85(_ key: [UInt8]) -> String? {
        guard key.count == 32 else { return nil }
        var out = [CChar](repeating: 0, count: 41)
        guard key.withUnsafeBufferPointer({ zmq_z85_encode(&out, $0.baseAddress, 32) }) != nil else { return nil }
        return String(cString: out)
    }
}

extension ZMQSocket {
    /// Makes this socket a CURVE server: every peer must complete a CURVE handshake, which the ZAP
    /// handler of `domain` accepts or refuses. Call before `bind`.
    public func makeCurveServer(secretKey: String, zapDomain: String) throws {
        try setInt(ZMQ_CURVE_SERVER, 1)
        try setZ85(ZMQ_CURVE_SECRETKEY, secretKey)
        try setBytes(ZMQ_ZAP_DOMAIN, Array(zapDomain.utf8))
    }

    /// Makes this socket a CURVE client of the server whose public key is `serverKey`. Call before `connect`.
    public func makeCurveClient(serverKey: String, keys: CurveKeyPair) throws {
        try setZ85(ZMQ_CURVE_SERVERKEY, serverKey)
        try setZ85(ZMQ_CURVE_PUBLICKEY, keys.publicKey)
        try setZ85(ZMQ_CURVE_SECRETKEY, keys.secretKey)
    }

    /// Key options take the 40-character Z85 text plus its terminating NUL (41 bytes).
    private func setZ85(_ option: Int32, _ key: String) throws {
        guard Curve.isZ85Key(key) else { throw ZMQError("setsockopt \(option): not a 40-character Z85 CURVE key", code: EINVAL) }
        try setBytes(option, Array(key.utf8) + [0])
    }
}

/// Key files: `NAME.key` holds a keypair and must stay private (mode 0600); `NAME.pub` holds only
/// the public key and can be handed out. Both are text, one `name: value` per line:
///
///     # KanbanBridge CURVE keypair. Keep this file private.
///     public-key: <40 Z85 characters>
///     secret-key: <40 Z85 characters>
///
/// Wherever a key is asked for, a 40-character key itself or a file holding it is accepted.
public enum CurveKeyFile {
    public struct Failure: Error, CustomStringConvertible {
        public let description: String
        public init(description: String) { self.description = description }
    }

    /// Writes `<base>.key` (mode 0600) and `<base>.pub`; refuses to overwrite either.
    public static func write(_ keys: CurveKeyPair, base: String) throws {
        try create(base + ".key", mode: 0o600, text: "# KanbanBridge CURVE keypair. Keep this file private.\n"
                   + "public-key: \(keys.publicKey)\nsecret-key: \(keys.secretKey)\n")
        try create(base + ".pub", mode: 0o644, text: "# KanbanBridge CURVE public key.\npublic-key: \(keys.publicKey)\n")
    }

    /// The keypair in a `.key` file (its public key is recomputed from the secret, so the two agree).
    public static func readKeyPair(_ path: String) throws -> CurveKeyPair {
        let fields = try read(path)
        guard let secret = fields["secret-key"] else {
            throw Failure(description: "\(path) holds no secret-key line (a .pub file only has the public half)")
        }
        do { return try CurveKeyPair.fromSecret(secret) } catch {
            throw Failure(description: "\(path): the secret-key is not a 40-character Z85 key")
        }
    }

    /// A public key: `keyOrPath` itself if it is one, else the public key in that file (`.pub` or `.key`).
    public static func publicKey(_ keyOrPath: String) throws -> String {
        if Curve.isZ85Key(keyOrPath), !FileManager.default.fileExists(atPath: keyOrPath) { return keyOrPath }
        let fields = try read(keyOrPath)
        if let key = fields["public-key"] { return key }
        if let secret = fields["secret-key"] { return try CurveKeyPair.fromSecret(secret).publicKey }
        throw Failure(description: "\(keyOrPath) holds no public-key line")
    }

    static func read(_ path: String) throws -> [String: String] {
        guard let data = FileManager.default.contents(atPath: path), case let text = String(decoding: data, as: UTF8.self) else { throw Failure(description: "cannot read key file \(path)") }
        var fields: [String: String] = [:]
        for raw in text.split(separator: "\n") {
            let line = raw.trimmingCharacters(in: .whitespaces)
            if line.isEmpty || line.hasPrefix("#") { continue }
            if Curve.isZ85Key(line) { fields["public-key"] = line; continue }  // a bare key
            guard let colon = line.firstIndex(of: ":") else { continue }
            let name = line[..<colon].trimmingCharacters(in: .whitespaces)
            let value = line[line.index(after: colon)...].trimmingCharacters(in: .whitespaces)
            guard Curve.isZ85Key(value) else { throw Failure(description: "\(path): \(name) is not a 40-character Z85 key") }
            fields[name] = value
        }
        return fields
    }

    private static func create(_ path: String, mode: mode_t, text: String) throws {
        let fd = open(path, O_WRONLY | O_CREAT | O_EXCL, mode)
        guard fd >= 0 else { throw Failure(description: "cannot create \(path): \(String(cString: strerror(errno)))") }
        defer { close(fd) }
        let bytes = Array(text.utf8)
        guard bytes.withUnsafeBytes({ Glibc.write(fd, $0.baseAddress, $0.count) }) == bytes.count else {
            throw Failure(description: "cannot write \(path)")
        }
    }
}
