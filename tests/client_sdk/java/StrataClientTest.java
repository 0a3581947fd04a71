import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Paths;
import strata.sdk.CancelToken;
import strata.sdk.StrataClient;
import strata.sdk.StrataException;

/**
 * The Java binding against a real stratad that java_binding_test.cc started
 * and filled: H5 "mall" (a tree serving https://mall.example.com/) and the
 * on-demand H5 "game". Arguments: server address, storage directory. Exits
 * non-zero on the first failed expectation.
 */
public final class StrataClientTest {
  private static void expect(boolean ok, String what) {
    if (!ok) {
      System.err.println("FAILED: " + what);
      System.exit(1);
    }
    System.out.println("ok: " + what);
  }

  public static void main(String[] args) throws Exception {
    StrataClient.Options o = new StrataClient.Options();
    o.serverAddress = args[0];
    o.storageDir = args[1];
    o.appId = "wallet";
    o.deviceId = "java-1";
    o.insecureSkipSignatureVerificationForTests = true; // unsigned app
    o.insecurePlaintextToLoopbackForTests = true;
    o.network = StrataClient.Network.METERED;
    try (StrataClient c = StrataClient.create(o)) {
      StrataClient.CheckResult r = c.check();
      expect(r.installed == 1 && r.failed == 0, "check installed mall only (" + r.installed + ")");
      expect(c.pendingDownloads()[0] == 1, "game waits for its first open");

      String mall = c.openModule("h5", "mall");
      String page = new String(
          Files.readAllBytes(Paths.get(mall, "index.html")), StandardCharsets.UTF_8);
      expect(page.equals("<h1>mall</h1>"), "openModule returns mall's tree");
      String resolved = c.resolveUrl("https://mall.example.com/?from=java");
      expect(resolved != null && resolved.equals(Paths.get(mall, "index.html").toString()),
          "resolveUrl serves the page from the device: " + resolved);
      expect(c.resolveUrl("https://pay.example.com/") == null, "other pages load from the network");
      try {
        c.resolveUrl("https://mall.example.com/..%2fstate");
        expect(false, "a traversal is refused");
      } catch (StrataException e) {
        expect(e.code() == StrataException.INVALID_ARGUMENT, "a traversal is refused: " + e.getMessage());
      }

      try (CancelToken cancel = new CancelToken()) {
        cancel.cancel();
        try {
          c.openModule("h5", "game", null, cancel);
          expect(false, "a cancelled open fails");
        } catch (StrataException e) {
          expect(e.code() == StrataException.CANCELLED, "a cancelled open fails with CANCELLED");
        }
      }
      final long[] last = {0, 0, 0};
      String game = c.openModule("h5", "game", (received, total, done) -> {
        last[0] = received;
        last[1] = total;
        if (done) last[2] = 1;
      }, null);
      expect(last[2] == 1 && last[0] > 0 && last[1] > 0,
          "the on-demand module downloaded with progress (" + last[0] + " of " + last[1] + ")");
      expect(Files.exists(Paths.get(game, "index.html")), "game's tree is on the device");
      expect(c.pendingDownloads()[0] == 0, "nothing waits any more");
      expect(c.traffic(StrataClient.Network.METERED)[1] >= last[1], "its bytes count as metered");
      c.beginLaunch();
      c.markLaunchHealthy();
      try {
        c.openModule("h5", "nothing");
        expect(false, "an unknown module fails");
      } catch (StrataException e) {
        expect(e.code() == StrataException.NOT_FOUND, "an unknown module is NOT_FOUND");
      }
    }
    System.out.println("java binding: all passed");
  }
}
