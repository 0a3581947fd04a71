package strata.sdk;

import java.io.IOException;

/**
 * The app's own HTTP stack (OkHttp, Cronet, HttpURLConnection ...) carrying
 * the Delivery API to stratad's HTTP port (docs/client_sdk.md,
 * "Transports"): set {@link StrataClient.Options#serverUrl} and
 * {@link StrataClient.Options#httpTransport}. Called on the SDK's threads,
 * several at once; each call performs one request and returns the whole
 * response (any HTTP status), or throws when no response arrived.
 */
public interface StrataHttpTransport {
  /** One request: "GET" or "POST", an absolute URL, header fields, a body. */
  final class Request {
    public final String method;
    public final String url;
    public final String[] headerNames;
    public final String[] headerValues;
    public final byte[] body;
    public final long timeoutMillis;

    Request(
        String method,
        String url,
        String[] headerNames,
        String[] headerValues,
        byte[] body,
        long timeoutMillis) {
      this.method = method;
      this.url = url;
      this.headerNames = headerNames;
      this.headerValues = headerValues;
      this.body = body;
      this.timeoutMillis = timeoutMillis;
    }
  }

  /** The response: status, header fields (parallel arrays) and body. */
  final class Response {
    public final int status;
    public final String[] headerNames;
    public final String[] headerValues;
    public final byte[] body;

    public Response(int status, String[] headerNames, String[] headerValues, byte[] body) {
      this.status = status;
      this.headerNames = headerNames;
      this.headerValues = headerValues;
      this.body = body;
    }
  }

  Response send(Request request) throws IOException;
}
