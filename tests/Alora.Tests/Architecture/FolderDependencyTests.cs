using Xunit.Abstractions;

namespace Alora.Tests.Architecture;

/// <summary>
/// The library's folders depend one way: no folder uses a folder that uses it back (directly or through others).
/// A cycle would mean neither side can be read, tested or changed without the other.
/// </summary>
public sealed class FolderDependencyTests(ITestOutputHelper output)
{
    [Fact]
    public void NoFolderOfTheLibraryUsesAFolderThatUsesItBack()
    {
        var deps = new FolderDependencies(typeof(AloraException).Assembly.Location, "Alora");
        foreach (var (from, to) in deps.Uses.OrderBy(kv => kv.Key, StringComparer.Ordinal))
            output.WriteLine($"{(from.Length == 0 ? "(root)" : from)} -> {string.Join(", ", to.Keys.Order(StringComparer.Ordinal))}");
        var cycles = deps.Cycles();
        var described = cycles.Select(c =>
            string.Join(" <-> ", c)
            + ": "
            + string.Join("; ", c.SelectMany(a => c.Where(b => deps.Uses.GetValueOrDefault(a)?.ContainsKey(b) == true).Select(b => deps.Uses[a][b])))
        );
        Assert.True(cycles.Count == 0, "folder cycles:\n" + string.Join("\n", described));
    }

    [Fact]
    public void TheAnalysisFindsACycleMadeOnlyInsideAMethodBody()
    {
        var deps = new FolderDependencies(typeof(FolderDependencyTests).Assembly.Location, "Alora.Tests.Architecture.Specimens");
        Assert.Equal(["Right"], deps.Uses["Left"].Keys);
        Assert.Equal(["Left"], deps.Uses["Right"].Keys);
        Assert.Equal(["Left"], deps.Uses["Top"].Keys);
        var cycle = Assert.Single(deps.Cycles());
        Assert.Equal(["Left", "Right"], cycle.Order(StringComparer.Ordinal));
    }

    [Fact]
    public void TheCommandLineUsesTheLibraryAndNotTheOtherWayRound()
    {
        var cli = typeof(Alora.Cli.AloraCli).Assembly;
        Assert.Contains(cli.GetReferencedAssemblies(), a => a.Name == "Alora");
        Assert.DoesNotContain(typeof(AloraException).Assembly.GetReferencedAssemblies(), a => a.Name == cli.GetName().Name);
    }
}
