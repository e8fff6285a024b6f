using System.Collections;
using System.Globalization;

namespace Alora.Hub;

/// <summary>
/// Where the Hugging Face cache lives and how the hub is reached, read from the environment variables huggingface_hub
/// reads: HF_HUB_CACHE (or the older HUGGINGFACE_HUB_CACHE), else HF_HOME/hub, else $XDG_CACHE_HOME/huggingface/hub,
/// else ~/.cache/huggingface/hub; HF_ENDPOINT; HF_TOKEN, else the token file (HF_TOKEN_PATH, else HF_HOME/token) that
/// `huggingface-cli login` writes; HF_HUB_OFFLINE; HF_HUB_ETAG_TIMEOUT and HF_HUB_DOWNLOAD_TIMEOUT in seconds.
/// </summary>
public sealed record HubSettings
{
    public const string PublicEndpoint = "https://huggingface.co";

    /// <summary>The hub cache folder (holding models--ORG--NAME, datasets--ORG--NAME).</summary>
    public required string CacheDir { get; init; }

    /// <summary>The hub's base address, without a trailing slash.</summary>
    public string Endpoint { get; init; } = PublicEndpoint;

    /// <summary>A user access token sent as a bearer token to the endpoint (never to another host), or null.</summary>
    public string? Token { get; init; }

    /// <summary>Only the cache is read: a missing file is an error, nothing is asked of the hub.</summary>
    public bool Offline { get; init; }

    /// <summary>How long a metadata request (HEAD) may take before the cache is used instead.</summary>
    public TimeSpan EtagTimeout { get; init; } = TimeSpan.FromSeconds(10);

    /// <summary>How long a download may wait for the next bytes.</summary>
    public TimeSpan DownloadTimeout { get; init; } = TimeSpan.FromSeconds(10);

    /// <summary>The settings of this process's environment.</summary>
    public static HubSettings FromEnvironment() => FromVariables(Environment.GetEnvironmentVariables());

    /// <summary>The settings that the given environment variables describe (a test passes its own).</summary>
    public static HubSettings FromVariables(IDictionary env)
    {
        ArgumentNullException.ThrowIfNull(env);
        string? Get(string name) => env[name] is string s && s.Length > 0 ? s : null;
        var home = Environment.GetFolderPath(Environment.SpecialFolder.UserProfile);
        string Expand(string p) => p.StartsWith('~') ? home + p[1..] : p;
        var hfHome = Expand(Get("HF_HOME") ?? Path.Combine(Get("XDG_CACHE_HOME") ?? Path.Combine(home, ".cache"), "huggingface"));
        var cache = Expand(Get("HF_HUB_CACHE") ?? Get("HUGGINGFACE_HUB_CACHE") ?? Path.Combine(hfHome, "hub"));
        var tokenPath = Expand(Get("HF_TOKEN_PATH") ?? Path.Combine(hfHome, "token"));
        var token = Get("HF_TOKEN") ?? Get("HUGGING_FACE_HUB_TOKEN") ?? ReadTokenFile(tokenPath);
        return new HubSettings
        {
            CacheDir = cache,
            Endpoint = Endpoint_(Get("HF_ENDPOINT")),
            Token = token?.Trim() is { Length: > 0 } t ? t : null,
            Offline = IsTrue(Get("HF_HUB_OFFLINE")),
            EtagTimeout = Seconds(Get("HF_HUB_ETAG_TIMEOUT"), "HF_HUB_ETAG_TIMEOUT") ?? TimeSpan.FromSeconds(10),
            DownloadTimeout = Seconds(Get("HF_HUB_DOWNLOAD_TIMEOUT"), "HF_HUB_DOWNLOAD_TIMEOUT") ?? TimeSpan.FromSeconds(10),
        };
    }

    /// <summary>huggingface_hub's reading of a boolean variable: 1, ON, YES or TRUE in any case.</summary>
    public static bool IsTrue(string? value) => value?.Trim().ToUpperInvariant() is "1" or "ON" or "YES" or "TRUE";

    static string? ReadTokenFile(string path)
    {
        try
        {
            return File.Exists(path) ? File.ReadAllText(path) : null;
        }
        catch (IOException)
        {
            return null;
        }
        catch (UnauthorizedAccessException)
        {
            return null;
        }
    }

    static string Endpoint_(string? value)
    {
        if (value is null)
            return PublicEndpoint;
        if (Uri.TryCreate(value, UriKind.Absolute, out var uri) && uri.Scheme is "http" or "https" && uri.Query.Length == 0)
            return value.TrimEnd('/');
        throw new AloraException($"environment variable HF_ENDPOINT='{value}': expected the hub's http(s) address, such as {PublicEndpoint}");
    }

    static TimeSpan? Seconds(string? value, string name)
    {
        if (value is null)
            return null;
        if (double.TryParse(value, NumberStyles.Float, CultureInfo.InvariantCulture, out var s) && double.IsFinite(s) && s > 0)
            return TimeSpan.FromSeconds(s);
        throw new AloraException($"environment variable {name}='{value}': expected a positive number of seconds");
    }
}
