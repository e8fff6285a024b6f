namespace Alora.Tests;

/// <summary>Locates the repository root and the shared fixtures (../shared/fixtures beside the checkout).</summary>
public static class Fixtures
{
    public static string RepoRoot { get; } = FindRepoRoot();

    public static string Root => Path.GetFullPath(Path.Combine(RepoRoot, "..", "shared", "fixtures"));

    public static bool Available => Directory.Exists(Root);

    public static string Path_(params string[] parts) => Path.Combine([Root, .. parts]);

    public static string Model(string name) => Path.Combine(Root, "models", name);

    static string FindRepoRoot()
    {
        var dir = new DirectoryInfo(AppContext.BaseDirectory);
        while (dir is not null && !File.Exists(Path.Combine(dir.FullName, "Alora.slnx")))
            dir = dir.Parent;
        return dir?.FullName ?? throw new InvalidOperationException("Alora.slnx not found above " + AppContext.BaseDirectory);
    }
}

/// <summary>A fact that needs ../shared/fixtures: skipped with a clear reason on a clone without it.</summary>
public sealed class FixtureFactAttribute : FactAttribute
{
    public FixtureFactAttribute()
    {
        if (!Fixtures.Available)
            Skip = $"fixtures not found at {Fixtures.Root} (a fresh clone has no ../shared)";
    }
}

/// <summary>A theory that needs ../shared/fixtures.</summary>
public sealed class FixtureTheoryAttribute : TheoryAttribute
{
    public FixtureTheoryAttribute()
    {
        if (!Fixtures.Available)
            Skip = $"fixtures not found at {Fixtures.Root} (a fresh clone has no ../shared)";
    }
}

/// <summary>A temporary folder removed after the test.</summary>
public sealed class TempDir : IDisposable
{
    public string Path { get; } = System.IO.Path.Combine(System.IO.Path.GetTempPath(), "alora-test-" + Guid.NewGuid().ToString("N")[..12]);

    public TempDir() => Directory.CreateDirectory(Path);

    public string File(string name) => System.IO.Path.Combine(Path, name);

    public void Dispose()
    {
        try
        {
            Directory.Delete(Path, true);
        }
        catch (IOException) { }
    }
}
