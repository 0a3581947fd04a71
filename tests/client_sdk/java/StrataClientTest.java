import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.HttpURLConnection;
import java.net.URL;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Paths;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import strata.sdk.CancelToken;
import strata.sdk.StrataClient;
import strata.sdk.StrataException;
import strata.sdk.StrataHttpTransport;

/**
 * The Java binding against a real stratad that java_binding_test.cc started
 * and filled: H5 "mall" (a tree serving https://mall.example.com/) and the
 * on-demand H5 "game". Arguments: server address, storage directory and
 * (optional) the HTTP port's URL, for the app's own HTTP stack. Exits
 * non-zero on the first failed expectation.
 */
public final class StrataClientTest {
  /** A StrataHttpTransport on the JDK's own HTTP client. */
  static StrataHttpTransport.Response send(StrataHttpTransport.Request r) throws IOException {
    HttpURLConnection c = (HttpURLConnection) new URL(r.url).openConnection();
    c.setRequestMethod(r.method);
    c.setConnectTimeout((int) r.timeoutMillis);
    c.setReadTimeout((int) r.timeoutMillis);
    for (int i = 0; i < r.headerNames.length; i++) {
      c.setRequestProperty(r.headerNames[i], r.headerValues[i]);
    }
    if (r.method.equals("POST")) {
      c.setDoOutput(true);
      try (OutputStream out = c.getOutputStream()) {
        out.write(r.body);
      }
    }
    int status = c.getResponseCode();
    InputStream in = status >= 400 ? c.getErrorStream() : c.getInputStream();
    byte[] body = in == null ? new byte[0] : in.readAllBytes();
    List<String> names = new ArrayList<>();
    List<String> values = new ArrayList<>();
    for (Map.Entry<String, List<String>> e : c.getHeaderFields().entrySet()) {
      if (e.getKey() == null) continue; // the status line
      for (String v : e.getValue()) {
        names.add(e.getKey());
        values.add(v);
      }
    }
    return new StrataHttpTransport.Response(
        status, names.toArray(new String[0]), values.toArray(new String[0]), body);
  }

  private static void expect(boolean ok, String what) {
    if (!ok) {
      System.err.println("FAILED: " + what);
      System.exit(1);
    }
    System.out.println("ok: " + what);
  }

  public static void main(String[] args) throws Exception {
    // The binding links no gRPC (strata::client_grpc is not in its JNI
    // library): a gRPC address is refused with what to do.
    StrataClient.Options g = new StrataClient.Options();
    g.serverAddress = args[0];
    g.storageDir = args[1] + "-grpc";
    g.appId = "wallet";
    g.deviceId = "java-grpc";
    g.insecureSkipSignatureVerificationForTests = true; // unsigned app
    g.insecurePlaintextToLoopbackForTests = true;
    try (StrataClient c = StrataClient.create(g)) {
      expect(false, "a gRPC address is refused");
    } catch (StrataException e) {
      expect(e.code() == StrataException.FAILED_PRECONDITION
          && e.getMessage().contains("server_url"),
          "a gRPC address is refused: " + e.getMessage());
    }

    // Everything over the app's own HTTP stack (HttpURLConnection here).
    final int[] calls = {0};
    StrataClient.Options o = new StrataClient.Options();
    o.serverUrl = args[2];
    o.httpTransport = request -> {
      synchronized (calls) {
        calls[0]++;
      }
      return send(request);
    };
    o.storageDir = args[1];
    o.appId = "wallet";
    o.deviceId = "java-1";
    o.insecureSkipSignatureVerificationForTests = true; // unsigned app
    o.network = StrataClient.Network.METERED;
    try (StrataClient c = StrataClient.create(o)) {
      StrataClient.CheckResult r = c.check();
      expect(r.installed == 1 && r.failed == 0, "check installed mall only (" + r.installed + ")");
      expect(c.pendingDownloads()[0] == 1, "game waits for its first open");

      String mall = c.openModule("h5", "mall");
      expect(Files.exists(Paths.get(mall, "index.html")), "mall came through HttpURLConnection");
      synchronized (calls) {
        expect(calls[0] >= 2, "the requests went through the app's transport (" + calls[0] + ")");
      }
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
      String sig = c.reportFailure(StrataClient.FAILURE_CRASH, "TypeError",
          new String[] {"at render (index.html:1:1)"}, "h5", "mall");
      expect(sig != null && sig.matches("[0-9a-f]{16}"), "reportFailure gives a signature id: " + sig);
      System.out.println("failure signature " + sig);
      expect(c.disabledBy("h5", "mall") == null, "no remedy disabled mall");
      try {
        c.reportFailure(StrataClient.FAILURE_CRASH, null, null, null, null);
        expect(false, "a failure that says nothing is refused");
      } catch (StrataException e) {
        expect(e.code() == StrataException.INVALID_ARGUMENT,
            "a failure that says nothing is INVALID_ARGUMENT");
      }
      c.check(); // sends the queued failure
      try {
        c.openModule("h5", "nothing");
        expect(false, "an unknown module fails");
      } catch (StrataException e) {
        expect(e.code() == StrataException.NOT_FOUND, "an unknown module is NOT_FOUND");
      }
    }
    {
      // A transport that fails.
      StrataClient.Options h = new StrataClient.Options();
      h.serverUrl = args[2];
      h.appId = "wallet";
      h.insecureSkipSignatureVerificationForTests = true; // unsigned app
      h.httpTransport = request -> {
        throw new IOException("airplane mode");
      };
      h.storageDir = args[1] + "-offline";
      h.deviceId = "java-offline";
      try (StrataClient c = StrataClient.create(h)) {
        try {
          c.check();
          expect(false, "a transport that throws fails the check");
        } catch (StrataException e) {
          expect(e.code() == StrataException.UNAVAILABLE && e.getMessage().contains("airplane mode"),
              "a transport that throws is UNAVAILABLE: " + e.getMessage());
        }
      }
    }
    System.out.println("java binding: all passed");
  }
}
