using System.Text.Json;
using Alora.Demo;

namespace Alora.Tests.Demo;

/// <summary>Generates the default-size data once for all tests of a class (about half a second) and deletes it after.</summary>
public sealed class SyntheticDataFixture : IDisposable
{
    public string Dir { get; } = Path.Combine(Path.GetTempPath(), "alora-synth-" + Guid.NewGuid().ToString("N"));
    public SyntheticDataOptions Options { get; } = new();
    public SyntheticDataManifest Manifest { get; }

    public SyntheticDataFixture() => Manifest = SyntheticData.Generate(Dir, Options);

    public string[] Lines(string rel) => File.ReadAllLines(Path.Combine(Dir, rel));

    public List<JsonElement> Jsonl(string rel) => Lines(rel).Select(l => JsonDocument.Parse(l).RootElement.Clone()).ToList();

    /// <summary>Sentences of a document: every sentence ends in "." followed by a space or the end (a quiz
    /// sentence "Question: ...? Answer: v." stays whole, since "?" is not a split point).</summary>
    public static IEnumerable<string> Sentences(string doc) =>
        doc.Split(". ", StringSplitOptions.RemoveEmptyEntries).Select(s => s.EndsWith('.') ? s : s + ".");

    public void Dispose()
    {
        if (Directory.Exists(Dir))
        {
            Directory.Delete(Dir, recursive: true);
        }
    }
}
