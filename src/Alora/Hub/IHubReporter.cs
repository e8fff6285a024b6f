namespace Alora.Hub;

/// <summary>What resolving files through the hub tells its user: downloads as they progress, and warnings.</summary>
public interface IHubReporter
{
    /// <summary>A download of <paramref name="file"/> (shown as "ORG/NAME: PATH") has <paramref name="done"/> of <paramref name="total"/> bytes.</summary>
    void Progress(string file, long done, long total);

    /// <summary>Something the user should know that does not stop the work (the hub unreachable, a cached copy used).</summary>
    void Warn(string message);
}

/// <summary>Tells nothing.</summary>
public sealed class SilentHubReporter : IHubReporter
{
    public static readonly SilentHubReporter Instance = new();

    public void Progress(string file, long done, long total) { }

    public void Warn(string message) { }
}
