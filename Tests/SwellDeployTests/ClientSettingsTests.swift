import SwellDeploy
import SwellModel
import Testing

@Suite struct ClientSettingsTests {
    func resolve(_ env: [String: String], cwd: String = "/home/ada/project/examples/x", files: [String: String] = [:]) throws -> ClientSettings {
        try ClientSettings.resolve(environment: env, currentDirectory: cwd, read: { files[$0] })
    }

    let login = #"{"url": "https://swell.example.com", "key": "swk_login"}"#

    @Test func keyFromTheEnvironmentFirst() throws {
        let s = try resolve(["SWELL_KEY": "swk_env", "HOME": "/home/ada"], files: ["/home/ada/project/.swell/admin.key": "swk_file\n"])
        #expect(s.key == "swk_env" && s.keyOrigin == .environment("SWELL_KEY"))
        #expect(s.url == "http://127.0.0.1:8080" && s.urlOrigin == .builtIn)
    }

    @Test func keyFileFoundUpward() throws {
        let s = try resolve(["HOME": "/home/ada"], files: ["/home/ada/project/.swell/admin.key": "swk_file\n"])
        #expect(s.key == "swk_file" && s.keyOrigin == .file("/home/ada/project/.swell/admin.key"))
        #expect(s.searched == ["SWELL_KEY", "/home/ada/project/examples/x/.swell/admin.key", "/home/ada/project/examples/.swell/admin.key",
                               "/home/ada/project/.swell/admin.key"])
    }

    @Test func dataDirOverridesTheSearch() throws {
        let s = try resolve(["HOME": "/home/ada", "SWELL_DATA_DIR": "../data"], files: ["/home/ada/project/examples/data/admin.key": "swk_d"])
        #expect(s.key == "swk_d")
    }

    @Test func nothingFoundListsEveryPlace() throws {
        let s = try resolve(["HOME": "/home/ada"], cwd: "/a/b")
        #expect(s.key == nil)
        #expect(s.searched == ["SWELL_KEY", "/a/b/.swell/admin.key", "/a/.swell/admin.key", "/.swell/admin.key", "/home/ada/.config/swell/login.json"])
        let hint = s.unauthorizedHint()
        #expect(hint.contains("no key found (looked in SWELL_KEY, /a/b/.swell/admin.key") && hint.contains("swell login http://127.0.0.1:8080 KEY"))
    }

    @Test func loginGivesURLAndKeyTogether() throws {
        let files = ["/home/ada/.config/swell/login.json": login, "/home/ada/project/.swell/admin.key": "swk_local"]
        let s = try resolve(["HOME": "/home/ada"], files: files)
        // The URL came from the login, so the local server's key file is not sent to it.
        #expect(s.url == "https://swell.example.com" && s.key == "swk_login" && s.keyOrigin == .login("/home/ada/.config/swell/login.json"))
        // SWELL_URL elsewhere: the nearest key file; the login's key is never sent to another URL.
        let local = try resolve(["HOME": "/home/ada", "SWELL_URL": "http://127.0.0.1:9090"], files: files)
        #expect(local.key == "swk_local")
        let other = try resolve(["HOME": "/home/ada", "SWELL_URL": "http://127.0.0.1:9090"], cwd: "/tmp", files: files)
        #expect(other.key == nil)
        let same = try resolve(["HOME": "/home/ada", "SWELL_URL": "https://swell.example.com/"], cwd: "/tmp", files: files)
        #expect(same.key == "swk_login")
        let xdg = try resolve(["HOME": "/home/ada", "XDG_CONFIG_HOME": "/cfg"], cwd: "/tmp", files: ["/cfg/swell/login.json": login])
        #expect(xdg.key == "swk_login")
    }

    @Test func urlsAreCheckedWithTheFix() throws {
        func message(_ url: String) -> String? {
            do {
                _ = try ClientSettings.normalizedURL(url, origin: "SWELL_URL")
                return nil
            } catch {
                return error.message
            }
        }
        #expect(try ClientSettings.normalizedURL("http://127.0.0.1:8080/", origin: "SWELL_URL") == "http://127.0.0.1:8080")
        #expect(try ClientSettings.normalizedURL("https://h.example/swell", origin: "SWELL_URL") == "https://h.example/swell")
        #expect(message("127.0.0.1:8080") == "SWELL_URL \"127.0.0.1:8080\" has no scheme: use http://127.0.0.1:8080")
        #expect(message("localhost") == "SWELL_URL \"localhost\" has no scheme: use http://localhost")
        #expect(message("http://127.0.0.1:8080/v1")?.contains("ends in /v1: give the server's root, http://127.0.0.1:8080 (the CLI adds /v1 itself)") == true)
        #expect(message("https://h.example/swell/v1/")?.contains("give the server's root, https://h.example/swell ") == true)
        #expect(message("ftp://h")?.contains("must start with http:// or https://") == true)
        #expect(message("http://")?.contains("is not a valid URL") == true)
        #expect(message("http://h:8080?x=1")?.contains("must not carry a query") == true)
        #expect(throws: SwellError.self) { try resolve(["SWELL_URL": "127.0.0.1:8080"]) }
    }
}
