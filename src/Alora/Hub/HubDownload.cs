using System.Security.Cryptography;
using System.Text.RegularExpressions;

namespace Alora.Hub;

/// <summary>
/// Downloads one blob into the cache: into blobs/ETAG.incomplete (resumed from its length on a retry or in a later
/// run), checked against the hub's size and, for an LFS file whose etag is its sha256, against that hash, then
/// renamed to blobs/ETAG. Only a complete, checked blob ever gets its name; a failed check deletes the download.
/// One process at a time downloads a blob (an exclusive lock on .locks/REPO/ETAG.lock).
/// </summary>
internal static partial class HubDownload
{
    const int Attempts = 5;

    public static void Blob(HubClient client, HubCache cache, HubRepo repo, string file, HubFileMetadata meta, IHubReporter reporter)
    {
        var blob = cache.BlobPath(repo, meta.Etag);
        Directory.CreateDirectory(Path.GetDirectoryName(blob)!);
        using var _ = Lock(cache.LockPath(repo, meta.Etag), $"{repo.Id}: {file}", reporter);
        if (File.Exists(blob) && new FileInfo(blob).Length == meta.Size)
            return; // another process finished it while this one waited
        var incomplete = blob + ".incomplete";
        var what = $"{repo.Id}: {file}";
        for (int attempt = 1; ; attempt++)
        {
            try
            {
                Fetch(client, meta, incomplete, what, reporter);
                break;
            }
            catch (HubUnreachableException e) when (attempt < Attempts)
            {
                reporter.Warn($"{e.Message}; retrying from byte {Length(incomplete)} ({attempt + 1} of {Attempts})");
                Thread.Sleep(TimeSpan.FromMilliseconds(200 * attempt));
            }
            catch (HubUnreachableException e)
            {
                throw new AloraException($"{e.Message}; {Length(incomplete)} of {meta.Size} bytes kept in {incomplete}: run again to resume", e);
            }
        }
        Check(incomplete, meta, what);
        File.Move(incomplete, blob, overwrite: true);
    }

    /// <summary>Appends the bytes after what <paramref name="incomplete"/> holds (all of them when the server ignores the Range).</summary>
    static void Fetch(HubClient client, HubFileMetadata meta, string incomplete, string what, IHubReporter reporter)
    {
        long have = Length(incomplete);
        if (have > meta.Size)
        {
            File.Delete(incomplete); // longer than the file: not a prefix of it
            have = 0;
        }
        if (have == meta.Size)
            return;
        var (body, start, response) = client.Get(meta, have, what);
        using (response)
        using (body)
        using (var fs = new FileStream(incomplete, FileMode.OpenOrCreate, FileAccess.Write, FileShare.None))
        {
            fs.SetLength(start);
            fs.Position = start;
            long done = start;
            reporter.Progress(what, done, meta.Size);
            var buffer = new byte[1 << 20];
            while (true)
            {
                int n = ReadWithTimeout(body, buffer, client, what);
                if (n == 0)
                    break;
                fs.Write(buffer, 0, n);
                done += n;
                reporter.Progress(what, done, meta.Size);
            }
            fs.Flush(true);
            if (done < meta.Size)
                throw new HubUnreachableException($"{what}: the connection ended after {done} of {meta.Size} bytes", null);
        }
    }

    static int ReadWithTimeout(Stream body, byte[] buffer, HubClient client, string what)
    {
        using var cts = new CancellationTokenSource(client.DownloadTimeout);
        try
        {
            return body.ReadAsync(buffer, cts.Token).AsTask().GetAwaiter().GetResult();
        }
        catch (OperationCanceledException e)
        {
            throw new HubUnreachableException($"{what}: no bytes for {client.DownloadTimeout.TotalSeconds:0.#} s", e);
        }
        catch (IOException e)
        {
            throw new HubUnreachableException($"{what}: the download broke off ({e.Message})", e);
        }
        catch (HttpRequestException e)
        {
            throw new HubUnreachableException($"{what}: the download broke off ({e.Message})", e);
        }
    }

    /// <summary>The size the hub announced, and the sha256 an LFS etag is; a mismatch deletes the download.</summary>
    static void Check(string incomplete, HubFileMetadata meta, string what)
    {
        long length = Length(incomplete);
        string? problem = length != meta.Size ? $"{length} bytes where the hub announced {meta.Size}" : null;
        if (problem is null && Sha256Etag().IsMatch(meta.Etag))
        {
            string actual;
            using (var fs = File.OpenRead(incomplete))
                actual = Convert.ToHexStringLower(SHA256.HashData(fs));
            if (actual != meta.Etag)
                problem = $"sha256 {actual} where the hub's etag says {meta.Etag}";
        }
        if (problem is null)
            return;
        File.Delete(incomplete);
        throw new AloraException($"{what}: the downloaded file is corrupt ({problem}); it was deleted, run again to download it anew");
    }

    static long Length(string path) => File.Exists(path) ? new FileInfo(path).Length : 0;

    /// <summary>An exclusive lock shared with other processes (and huggingface_hub's file locks, which are flock too).</summary>
    static FileStream Lock(string path, string what, IHubReporter reporter)
    {
        Directory.CreateDirectory(Path.GetDirectoryName(path)!);
        bool told = false;
        while (true)
        {
            try
            {
                return new FileStream(path, FileMode.OpenOrCreate, FileAccess.ReadWrite, FileShare.None);
            }
            catch (IOException) when (File.Exists(path))
            {
                if (!told)
                    reporter.Warn($"{what}: waiting for another process that downloads it ({path})");
                told = true;
                Thread.Sleep(200);
            }
        }
    }

    [GeneratedRegex("^[0-9a-f]{64}$")]
    private static partial Regex Sha256Etag();
}
