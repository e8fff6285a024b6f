using System.Net;
using System.Net.Http.Headers;
using System.Reflection;

namespace Alora.Hub;

/// <summary>What the hub says of a file at a revision: the commit it resolved to, the blob's etag and size, and where its bytes are.</summary>
public sealed record HubFileMetadata(string Commit, string Etag, long Size, Uri Location);

/// <summary>The hub could not be reached (no connection, a time-out): the cache may still serve.</summary>
public sealed class HubUnreachableException(string message, Exception? inner) : Exception(message, inner);

/// <summary>
/// The two requests huggingface_hub makes of a hub: HEAD on a file's resolve address for its metadata (following
/// only redirects within the hub, such as a renamed repository, and reading an LFS file's etag and size from the
/// redirect to its storage), then GET of its bytes from the address that names, resumed with a Range from what a
/// previous attempt left.
/// </summary>
public sealed class HubClient : IDisposable
{
    const int MaxRedirects = 10;
    readonly HttpClient http;
    readonly HubSettings settings;
    readonly Uri endpoint;

    public HubClient(HubSettings settings)
    {
        ArgumentNullException.ThrowIfNull(settings);
        this.settings = settings;
        endpoint = new Uri(settings.Endpoint + "/");
        var handler = new SocketsHttpHandler
        {
            AllowAutoRedirect = false, // redirects are followed by hand: the token must never go to another host
            AutomaticDecompression = DecompressionMethods.None,
            ConnectTimeout = settings.EtagTimeout,
        };
        http = new HttpClient(handler) { Timeout = Timeout.InfiniteTimeSpan };
        var version = typeof(HubClient).Assembly.GetCustomAttribute<AssemblyInformationalVersionAttribute>()?.InformationalVersion ?? "0";
        http.DefaultRequestHeaders.UserAgent.Add(new ProductInfoHeaderValue("alora", version.Split('+')[0]));
    }

    /// <summary>How long a download may wait for its next bytes.</summary>
    public TimeSpan DownloadTimeout => settings.DownloadTimeout;

    /// <summary>The resolve address of a file at a revision.</summary>
    public Uri ResolveUrl(HubRepo repo, string revision, string file) =>
        new(endpoint, $"{repo.UrlPath}/resolve/{Uri.EscapeDataString(revision)}/{string.Join('/', file.Split('/').Select(Uri.EscapeDataString))}");

    /// <summary>
    /// The file's metadata, or null when the hub says the file does not exist at that revision (with the commit it
    /// looked at, when the hub names one). Throws <see cref="HubUnreachableException"/> when there is no answer, and
    /// an <see cref="AloraException"/> for an answer that refuses (gated, missing or private repository, bad revision).
    /// </summary>
    public (HubFileMetadata? Metadata, string? Commit) Head(HubRepo repo, string revision, string file)
    {
        ArgumentNullException.ThrowIfNull(repo);
        var url = ResolveUrl(repo, revision, file);
        for (int hop = 0; ; hop++)
        {
            using var response = Send(HttpMethod.Head, url, range: null, settings.EtagTimeout, $"{repo}: {file}");
            var status = (int)response.StatusCode;
            if (status is >= 300 and < 400 && response.Headers.Location is { } location && !location.IsAbsoluteUri)
            {
                if (hop == MaxRedirects)
                    throw new AloraException($"{repo}: {file}: more than {MaxRedirects} redirects from {settings.Endpoint}");
                url = new Uri(url, location); // within the hub (a renamed repository): follow
                continue;
            }
            var commit = Header(response, "X-Repo-Commit");
            if (status == 404 && Header(response, "X-Error-Code") is null or "EntryNotFound")
                return (null, commit);
            if (status >= 400)
                throw Refusal(repo, revision, file, response);
            if (commit is null)
                throw new AloraException($"{repo}: {file}: {settings.Endpoint} sent no X-Repo-Commit header; is HF_ENDPOINT a Hugging Face hub?");
            var etag = NormalizeEtag(Header(response, "X-Linked-Etag") ?? response.Headers.ETag?.Tag)
                ?? throw new AloraException($"{repo}: {file}: {settings.Endpoint} sent no ETag, so the download cannot be checked or cached");
            var sizeText = Header(response, "X-Linked-Size")
                ?? response.Content.Headers.ContentLength?.ToString(System.Globalization.CultureInfo.InvariantCulture);
            if (!long.TryParse(sizeText, out var size) || size < 0)
                throw new AloraException($"{repo}: {file}: {settings.Endpoint} sent no file size");
            var where = response.Headers.Location is { } loc ? new Uri(url, loc) : url;
            return (new HubFileMetadata(commit, etag, size, where), commit);
        }
    }

    /// <summary>
    /// Opens the file's bytes from <paramref name="offset"/> on: the stream and the offset it really starts at (0
    /// when the server ignored the Range and sends the whole file).
    /// </summary>
    public (Stream Body, long Offset, HttpResponseMessage Response) Get(HubFileMetadata file, long offset, string what)
    {
        ArgumentNullException.ThrowIfNull(file);
        var url = file.Location;
        for (int hop = 0; ; hop++)
        {
            var response = Send(HttpMethod.Get, url, offset > 0 ? offset : null, settings.DownloadTimeout, what);
            var status = (int)response.StatusCode;
            if (status is >= 300 and < 400 && response.Headers.Location is { } location && hop < MaxRedirects)
            {
                url = new Uri(url, location);
                response.Dispose();
                continue;
            }
            if (status >= 400)
            {
                using (response)
                    throw new HubUnreachableException(
                        $"{what}: download from {url.GetLeftPart(UriPartial.Path)} answered {status} {response.ReasonPhrase}",
                        null
                    );
            }
            long start = status == 206 ? response.Content.Headers.ContentRange?.From ?? -1 : 0;
            if (start != 0 && start != offset)
            {
                response.Dispose();
                throw new HubUnreachableException($"{what}: the server resumed at byte {start}, not at {offset}", null);
            }
            return (response.Content.ReadAsStream(), start, response);
        }
    }

    HttpResponseMessage Send(HttpMethod method, Uri url, long? range, TimeSpan timeout, string what)
    {
        using var request = new HttpRequestMessage(method, url);
        request.Headers.AcceptEncoding.Add(new StringWithQualityHeaderValue("identity"));
        // the token goes to the hub itself only, never to the storage an LFS file is redirected to
        if (settings.Token is { } token && url.Authority == endpoint.Authority && url.Scheme == endpoint.Scheme)
            request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", token);
        if (range is { } from)
            request.Headers.Range = new RangeHeaderValue(from, null);
        using var cts = new CancellationTokenSource(timeout);
        try
        {
            return http.Send(request, HttpCompletionOption.ResponseHeadersRead, cts.Token);
        }
        catch (HttpRequestException e)
        {
            throw new HubUnreachableException($"{what}: cannot reach {url.GetLeftPart(UriPartial.Authority)} ({e.Message})", e);
        }
        catch (OperationCanceledException e)
        {
            throw new HubUnreachableException(
                $"{what}: {url.GetLeftPart(UriPartial.Authority)} did not answer within {timeout.TotalSeconds:0.#} s",
                e
            );
        }
    }

    AloraException Refusal(HubRepo repo, string revision, string file, HttpResponseMessage r)
    {
        var code = Header(r, "X-Error-Code");
        var message = Header(r, "X-Error-Message");
        var said = message is null ? "" : $" (the hub: {message})";
        var tokenHint = settings.Token is null
            ? "set HF_TOKEN to an access token (or log in with `huggingface-cli login`)"
            : "the token in HF_TOKEN has no access to it";
        var status = (int)r.StatusCode;
        return code switch
        {
            "GatedRepo" => new AloraException(
                $"{repo.Id}: gated repository: {file} needs a token of an account that has accepted its conditions on the hub; {tokenHint}{said}"
            ),
            "RevisionNotFound" => new AloraException($"{repo.Id}: revision '{revision}' not found on {settings.Endpoint}{said}"),
            "RepoNotFound" or null when status is 401 or 404 => new AloraException(
                $"{repo.Id}: repository not found on {settings.Endpoint} (or private: {tokenHint}){said}"
            ),
            _ when status is 401 or 403 => new AloraException($"{repo.Id}: {file}: access refused ({status}): {tokenHint}{said}"),
            _ => new AloraException($"{repo.Id}: {file}: {settings.Endpoint} answered {status} {r.ReasonPhrase}{said}"),
        };
    }

    static string? Header(HttpResponseMessage r, string name) =>
        r.Headers.TryGetValues(name, out var v) ? v.FirstOrDefault()
        : r.Content.Headers.TryGetValues(name, out var c) ? c.FirstOrDefault()
        : null;

    /// <summary>An etag without the weak marker and the quotes HTTP puts around it.</summary>
    public static string? NormalizeEtag(string? etag)
    {
        if (etag is null)
            return null;
        var e = etag.StartsWith("W/", StringComparison.Ordinal) ? etag[2..] : etag;
        e = e.Trim('"');
        if (e.Length == 0 || e.Contains('/', StringComparison.Ordinal) || e.Contains('\\', StringComparison.Ordinal) || e is "." or "..")
            return null;
        return e;
    }

    public void Dispose() => http.Dispose();
}
