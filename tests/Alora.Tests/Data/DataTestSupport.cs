namespace Alora.Tests.Data;

/// <summary>Locates ../shared/fixtures beside the repository root (the folder holding Alora.slnx).</summary>
internal static class DataFixtures
{
    /// <summary>The fixtures folder, or null when this checkout has none (a user's fresh clone).</summary>
    public static string? Root { get; } = FindRoot();

    public static string Path(string relative) =>
        System.IO.Path.Combine(Root ?? throw new InvalidOperationException("fixtures are absent"), relative);

    private static string? FindRoot()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir != null; dir = dir.Parent)
        {
            if (File.Exists(System.IO.Path.Combine(dir.FullName, "Alora.slnx")))
            {
                var fixtures = System.IO.Path.GetFullPath(System.IO.Path.Combine(dir.FullName, "..", "shared", "fixtures"));
                return Directory.Exists(fixtures) ? fixtures : null;
            }
        }
        return null;
    }
}

/// <summary>A fact that xunit reports as skipped when the fixture files it needs are absent.</summary>
internal sealed class DataFixtureFactAttribute : FactAttribute
{
    public DataFixtureFactAttribute(params string[] relativePaths)
    {
        var missing =
            DataFixtures.Root == null
                ? "../shared/fixtures"
                : relativePaths.FirstOrDefault(p => !File.Exists(DataFixtures.Path(p)) && !Directory.Exists(DataFixtures.Path(p)));
        if (missing != null)
            Skip = $"fixture {missing} is absent (tests read real files from ../shared/fixtures beside the repository)";
    }
}

/// <summary>A temporary folder deleted with the test.</summary>
internal sealed class ScratchDir : IDisposable
{
    public ScratchDir() => Directory.CreateDirectory(Root);

    public string Root { get; } = System.IO.Path.Combine(System.IO.Path.GetTempPath(), "alora-data-" + Guid.NewGuid().ToString("N"));

    public string Write(string name, string content)
    {
        var path = Path(name);
        File.WriteAllText(path, content);
        return path;
    }

    public string Path(string name) => System.IO.Path.Combine(Root, name);

    public void Dispose()
    {
        try
        {
            Directory.Delete(Root, recursive: true);
        }
        catch (IOException) { } // a leftover temp folder must not fail a test
    }
}
