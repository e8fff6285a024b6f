using System.Text.Json.Nodes;
using Alora.Eval;
using Alora.IO;

namespace Alora.Cli;

/// <summary>Result files as JSON with snake_case keys; a non-finite number is written as null (<see cref="EvalJson.Write"/>).</summary>
public static class ResultJson
{
    /// <summary>The perplexity result; <paramref name="more"/> adds fields (the adapter and its scale) at the end.</summary>
    public static string Perplexity(PerplexityResult r, string model, string data, bool perDocument = true, Action<JsonObject>? more = null)
    {
        ArgumentNullException.ThrowIfNull(r);
        var o = new JsonObject
        {
            ["model"] = Path.GetFullPath(model),
            ["data"] = Path.GetFullPath(data),
            ["documents"] = r.Documents,
            ["tokens"] = r.Tokens,
            ["nll_sum"] = r.NllSum,
            ["mean_nll"] = r.MeanNll,
            ["perplexity"] = r.Perplexity,
            ["words"] = r.Words,
            ["bytes"] = r.Bytes,
            ["word_perplexity"] = r.WordPerplexity,
            ["bits_per_byte"] = r.BitsPerByte,
            ["max_length"] = r.MaxLength,
            ["stride"] = r.Stride,
            ["per_document"] = !perDocument
                ? null
                : new JsonArray(
                    r.PerDocument.Select(d =>
                            (JsonNode)
                                new JsonObject
                                {
                                    ["index"] = d.Index,
                                    ["tokens"] = d.Tokens,
                                    ["nll_sum"] = d.NllSum,
                                    ["mean_nll"] = d.MeanNll,
                                }
                        )
                        .ToArray()
                ),
        };
        more?.Invoke(o);
        return EvalJson.Write(o);
    }

    /// <summary>
    /// --out FILE also gets FILE's lm-eval results file beside it (<see cref="LmEvalResults.PathBeside"/>): checked
    /// with --out before any work, so an unwritable place fails first.
    /// </summary>
    public static void CheckOut(string outFile)
    {
        OutputCheck.File(outFile, "--out");
        OutputCheck.File(LmEvalResults.PathBeside(outFile), "--out's lm-eval results file");
    }

    /// <summary>Writes the lm-eval results file of --out FILE; null (nothing lm-eval could score) writes none and says why on stderr.</summary>
    public static void WriteLmEval(CliIo io, string outFile, JsonObject? results, string? whyNone = null)
    {
        ArgumentNullException.ThrowIfNull(io);
        var path = LmEvalResults.PathBeside(outFile);
        if (results is null)
        {
            io.Err.WriteLine($"no lm-eval results file {path}: {whyNone}");
            return;
        }
        AtomicFile.WriteAllText(path, EvalJson.Write(results) + "\n");
    }
}
