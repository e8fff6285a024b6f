using System.Collections.Concurrent;
using System.Net;
using System.Net.Sockets;
using System.Security.Cryptography;
using System.Text;

namespace Alora.Tests.Hub;

/// <summary>
/// A Hugging Face hub on the loopback interface, written from the hub's HTTP conventions: GET and HEAD on
/// /ORG/NAME/resolve/REVISION/PATH (datasets under /datasets/), answering with X-Repo-Commit, an ETag (a regular
/// file's git blob sha1) and Content-Length; an LFS file (*.safetensors) redirected (302) to a storage host (a second
/// listener on 127.0.0.2) with X-Linked-Etag (its sha256) and X-Linked-Size; Range requests (206); the error codes
/// (X-Error-Code: EntryNotFound, RepoNotFound, RevisionNotFound, GatedRepo); a renamed repository as a relative
/// redirect. Every request is logged; faults (a connection cut mid-body, altered bytes) can be switched on per file.
/// </summary>
public sealed class LoopbackHub : IDisposable
{
    public sealed record Repo(string Prefix, string Id, string Commit, Dictionary<string, byte[]> Files, string[] Branches, bool Gated);

    public sealed record Request(string Host, string Method, string Path, Dictionary<string, string> Headers);

    readonly TcpListener hub = new(IPAddress.Loopback, 0);
    readonly TcpListener storage = new(IPAddress.Parse("127.0.0.2"), 0);
    readonly List<Repo> repos = [];
    readonly Dictionary<string, string> renamed = [];
    readonly ConcurrentBag<TcpClient> connections = [];
    readonly CancellationTokenSource stop = new();

    public LoopbackHub()
    {
        hub.Start();
        storage.Start();
        _ = Serve(hub, "hub");
        _ = Serve(storage, "storage");
    }

    public string Endpoint => $"http://127.0.0.1:{((IPEndPoint)hub.LocalEndpoint).Port}";
    string StorageBase => $"http://127.0.0.2:{((IPEndPoint)storage.LocalEndpoint).Port}";

    public ConcurrentQueue<Request> Log { get; } = new();

    /// <summary>The token a gated repository accepts.</summary>
    public string AcceptedToken { get; set; } = "hf_loopback_token";

    /// <summary>Files whose next GET sends only this many bytes of the body before the connection is cut (once each).</summary>
    public ConcurrentDictionary<string, int> CutOnce { get; } = new();

    /// <summary>Files whose bytes are sent with one byte flipped (as storage that corrupted them would).</summary>
    public ConcurrentDictionary<string, bool> Corrupt { get; } = new();

    public Repo AddModel(string id, string commit, Dictionary<string, byte[]> files, bool gated = false, params string[] branches) =>
        Add(new Repo("", id, commit, files, branches.Length == 0 ? ["main"] : branches, gated));

    public Repo AddDataset(string id, string commit, Dictionary<string, byte[]> files, params string[] branches) =>
        Add(new Repo("datasets/", id, commit, files, branches.Length == 0 ? ["main"] : branches, false));

    public void Rename(string oldId, string newId) => renamed[oldId] = newId;

    Repo Add(Repo r)
    {
        lock (repos)
            repos.Add(r);
        return r;
    }

    public static bool IsLfs(string path) => path.EndsWith(".safetensors", StringComparison.Ordinal);

    public static string Sha256(byte[] b) => Convert.ToHexStringLower(SHA256.HashData(b));

    /// <summary>git's object id of a blob: sha1 over "blob SIZE\0" and the bytes (an identifier, not a security check).</summary>
#pragma warning disable CA5350
    public static string GitBlobSha1(byte[] b) => Convert.ToHexStringLower(SHA1.HashData([.. Encoding.ASCII.GetBytes($"blob {b.Length}\0"), .. b]));
#pragma warning restore CA5350

    public IEnumerable<Request> Requests(string method, string pathEnd) =>
        Log.Where(r => r.Method == method && r.Path.EndsWith(pathEnd, StringComparison.Ordinal));

    /// <summary>Closes both listeners and every open connection: from now on connections are refused.</summary>
    public void Stop()
    {
        stop.Cancel();
        hub.Stop();
        storage.Stop();
        foreach (var c in connections)
            c.Dispose();
    }

    public void Dispose()
    {
        Stop();
        stop.Dispose();
    }

    async Task Serve(TcpListener listener, string host)
    {
        while (!stop.IsCancellationRequested)
        {
            TcpClient client;
            try
            {
                client = await listener.AcceptTcpClientAsync(stop.Token);
            }
            catch (Exception e) when (e is OperationCanceledException or SocketException or ObjectDisposedException)
            {
                return;
            }
            connections.Add(client);
            _ = Task.Run(() => Connection(client, host));
        }
    }

    async Task Connection(TcpClient client, string host)
    {
        try
        {
            using (client)
            {
                var stream = client.GetStream();
                var reader = new StreamReader(stream, Encoding.ASCII, false, 1, leaveOpen: true);
                while (true)
                {
                    var line = await reader.ReadLineAsync(stop.Token);
                    if (string.IsNullOrEmpty(line))
                        return;
                    var parts = line.Split(' ');
                    var headers = new Dictionary<string, string>(StringComparer.OrdinalIgnoreCase);
                    string? h;
                    while (!string.IsNullOrEmpty(h = await reader.ReadLineAsync(stop.Token)))
                        headers[h[..h.IndexOf(':', StringComparison.Ordinal)].Trim()] = h[(h.IndexOf(':', StringComparison.Ordinal) + 1)..].Trim();
                    var request = new Request(host, parts[0], Uri.UnescapeDataString(parts[1]), headers);
                    Log.Enqueue(request);
                    if (!await Answer(stream, request))
                        return; // the connection was cut on purpose
                }
            }
        }
        catch (Exception e) when (e is IOException or OperationCanceledException or ObjectDisposedException or SocketException) { }
    }

    async Task<bool> Answer(NetworkStream stream, Request r)
    {
        var (status, headers, body) = r.Host == "storage" ? Storage(r) : Hub(r);
        bool head = r.Method == "HEAD";
        var text = new StringBuilder($"HTTP/1.1 {status} {(HttpStatusCode)status}\r\n");
        foreach (var (k, v) in headers)
            text.Append(CultureInfoInvariant($"{k}: {v}\r\n"));
        text.Append(CultureInfoInvariant($"Content-Length: {body.Length}\r\n\r\n"));
        await stream.WriteAsync(Encoding.ASCII.GetBytes(text.ToString()), stop.Token);
        if (head)
            return true;
        var file = headers.TryGetValue("X-Test-File", out var f) ? f : null;
        if (file is not null && CutOnce.TryRemove(file, out int keep) && keep < body.Length)
        {
            await stream.WriteAsync(body.AsMemory(0, keep), stop.Token);
            await stream.FlushAsync(stop.Token);
            return false;
        }
        await stream.WriteAsync(body, stop.Token);
        return true;
    }

    static string CultureInfoInvariant(FormattableString s) => s.ToString(System.Globalization.CultureInfo.InvariantCulture);

    (int, Dictionary<string, string>, byte[]) Hub(Request r)
    {
        var noHeaders = new Dictionary<string, string>();
        var path = r.Path.TrimStart('/');
        var prefix = path.StartsWith("datasets/", StringComparison.Ordinal) ? "datasets/" : "";
        var parts = path[prefix.Length..].Split('/');
        if (parts.Length < 5 || parts[2] != "resolve")
            return (404, noHeaders, []);
        var id = $"{parts[0]}/{parts[1]}";
        if (renamed.TryGetValue(id, out var newId))
            return (307, new() { ["Location"] = $"/{prefix}{newId}/{string.Join('/', parts[2..])}" }, []);
        Repo? repo;
        lock (repos)
            repo = repos.FirstOrDefault(x => x.Prefix == prefix && x.Id == id);
        if (repo is null)
            return Error(401, "RepoNotFound", "Repository not found", null);
        if (repo.Gated && (!r.Headers.TryGetValue("Authorization", out var auth) || auth != $"Bearer {AcceptedToken}"))
            return Error(
                401,
                "GatedRepo",
                $"Access to model {id} is restricted. You must have access to it and be authenticated to access it. Please log in.",
                null
            );
        var revision = parts[3];
        if (revision != repo.Commit && !repo.Branches.Contains(revision))
            return Error(404, "RevisionNotFound", $"Invalid rev id: {revision}", null);
        var file = string.Join('/', parts[4..]);
        if (!repo.Files.TryGetValue(file, out var bytes))
            return Error(404, "EntryNotFound", $"{file} does not exist on \"{revision}\"", repo.Commit);
        if (IsLfs(file))
        {
            var sha = Sha256(bytes);
            return (
                302,
                new()
                {
                    ["X-Repo-Commit"] = repo.Commit,
                    ["ETag"] =
                        $"\"{GitBlobSha1(Encoding.ASCII.GetBytes($"version https://git-lfs.github.com/spec/v1\noid sha256:{sha}\nsize {bytes.Length}\n"))}\"",
                    ["X-Linked-Etag"] = $"\"{sha}\"",
                    ["X-Linked-Size"] = bytes.Length.ToString(System.Globalization.CultureInfo.InvariantCulture),
                    ["Location"] = $"{StorageBase}/{repo.Prefix}{repo.Id}/{sha}?file={Uri.EscapeDataString(file)}",
                },
                []
            );
        }
        var h = new Dictionary<string, string>
        {
            ["X-Repo-Commit"] = repo.Commit,
            ["ETag"] = $"\"{GitBlobSha1(bytes)}\"",
            ["X-Test-File"] = file,
        };
        return Ranged(r, h, bytes, file);
    }

    (int, Dictionary<string, string>, byte[]) Storage(Request r)
    {
        var q = r.Path.IndexOf("?file=", StringComparison.Ordinal);
        var file = r.Path[(q + 6)..];
        var sha = r.Path[..q].Split('/')[^1];
        byte[]? bytes;
        lock (repos)
            bytes = repos.SelectMany(x => x.Files).FirstOrDefault(kv => kv.Key == file && Sha256(kv.Value) == sha).Value;
        if (bytes is null)
            return (404, [], []);
        return Ranged(r, new() { ["X-Test-File"] = file }, bytes, file);
    }

    (int, Dictionary<string, string>, byte[]) Ranged(Request r, Dictionary<string, string> h, byte[] bytes, string file)
    {
        if (Corrupt.ContainsKey(file))
        {
            bytes = (byte[])bytes.Clone();
            bytes[bytes.Length / 2] ^= 0x5a;
        }
        if (!r.Headers.TryGetValue("Range", out var range))
            return (200, h, bytes);
        long from = long.Parse(range["bytes=".Length..].TrimEnd('-'), System.Globalization.CultureInfo.InvariantCulture);
        if (from >= bytes.Length)
            return (416, new() { ["Content-Range"] = $"bytes */{bytes.Length}" }, []);
        h["Content-Range"] = $"bytes {from}-{bytes.Length - 1}/{bytes.Length}";
        return (206, h, bytes[(int)from..]);
    }

    static (int, Dictionary<string, string>, byte[]) Error(int status, string code, string message, string? commit)
    {
        var h = new Dictionary<string, string> { ["X-Error-Code"] = code, ["X-Error-Message"] = message };
        if (commit is not null)
            h["X-Repo-Commit"] = commit;
        return (status, h, []);
    }
}
