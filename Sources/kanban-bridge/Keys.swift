import ArgumentParser
import ZeroMQ

struct Keys: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Make CURVE keypairs for the coordinator, the admin and lanes.",
        discussion: """
            With `serve --curve-secret-key server.key`, both sockets require CURVE and only registered public \
            keys may connect: the admin's (`serve --curve-admin-key admin.pub`) and each lane's \
            (`lanes register NAME --curve-public-key lane.pub`). The key, not a token, then says who a caller is.
            """,
        subcommands: [Generate.self])

    struct Generate: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Write NAME.key (the keypair, mode 0600: keep it private) and NAME.pub (the public key, to hand out).",
            discussion: "Refuses to overwrite existing files. Prints the public key.")
        @Argument(help: ArgumentHelp("Path and base name of the files, e.g. keys/server.", valueName: "name"))
        var name: String

        func run() throws {
            guard Curve.isAvailable else {
                printError("this libzmq was built without CURVE (Debian's libzmq3-dev has it)")
                throw ExitCode(1)
            }
            do {
                let keys = try CurveKeyPair.generate()
                try CurveKeyFile.write(keys, base: name)
                print("wrote \(name).key (private, mode 0600) and \(name).pub")
                print("public key: \(keys.publicKey)")
            } catch {
                printError("\(error)")
                throw ExitCode(1)
            }
        }
    }
}
