using System.CommandLine;
using System.Globalization;
using Alora.Generation;
using Alora.Tokenization;

namespace Alora.Cli.Commands;

/// <summary>alora generate: greedy decoding from a text or id prompt.</summary>
public static class GenerateCommand
{
    public static Command Create(CliIo io)
    {
        var model = new ModelOptions(io);
        var prompt = new Option<string?>("--prompt")
        {
            Description = "prompt text (tokenized with the model's tokenizer, bos added when the model expects it)",
        };
        var promptIds = new Option<string?>("--prompt-ids") { Description = "prompt as comma-separated token ids, used as given" };
        var maxNew = new Option<int>("--max-new-tokens")
        {
            Description = "tokens to generate (the prompt and all but the last new token must fit the model's context length)",
            DefaultValueFactory = _ => 32,
        }.AtLeast(1);
        var ignoreEos = new Option<bool>("--ignore-eos") { Description = "keep generating after the eos token" };
        var cmd = new Command("generate", "Greedy decoding with a key/value cache: prints each new token id as it is chosen, then the text.");
        model.AddTo(cmd);
        cmd.Add(prompt);
        cmd.Add(promptIds);
        cmd.Add(maxNew);
        cmd.Add(ignoreEos);
        cmd.SetAction(p =>
        {
            string? text = p.GetValue(prompt),
                idsText = p.GetValue(promptIds);
            if ((text is null) == (idsText is null))
                throw new AloraException("give exactly one of --prompt and --prompt-ids");
            var modelDir = model.Folder(p);
            using var lm = model.Load(p);
            using var tok = HasTokenizer(modelDir) ? TextTokenizer.Load(modelDir) : null;
            int[] ids = idsText is not null
                ? ParseIds(idsText)
                : tok?.EncodeWithBos(text!)
                    ?? throw new AloraException($"{modelDir}: no tokenizer.json or tokenizer.model to encode --prompt; use --prompt-ids");
            var stop = p.GetValue(ignoreEos) ? null : EosIds(lm.Config, tok);
            var soFar = new List<int>();
            string shown = "";
            io.Out.WriteLine("prompt_ids: " + string.Join(",", ids));
            io.Out.Write("new_ids: ");
            io.Out.Flush();
            var generated = GreedyDecoder.Generate(lm, ids, p.GetValue(maxNew), stop, id =>
            {
                io.Out.Write((soFar.Count > 0 ? "," : "") + id.ToString(CultureInfo.InvariantCulture)); // each id as it is chosen
                io.Out.Flush();
                soFar.Add(id);
                if (tok is not null)
                    shown = StreamText(io.Err, tok, soFar, shown);
            });
            io.Out.WriteLine();
            if (tok is not null && shown.Length > 0)
                io.Err.WriteLine();
            if (tok is not null)
                io.Out.WriteLine("text: " + tok.Decode(generated.ToArray()));
            return 0;
        });
        return cmd;
    }

    /// <summary>
    /// The text so far on stderr as it grows: the decoding of all new ids, printed past what is already shown,
    /// held back while it ends in an incomplete UTF-8 character (U+FFFD) or no longer extends the shown text
    /// (a merge that rewrites the end). Returns the text shown.
    /// </summary>
    static string StreamText(TextWriter err, TextTokenizer tok, List<int> ids, string shown)
    {
        var text = tok.Decode(ids);
        if (text.EndsWith('\uFFFD') || !text.StartsWith(shown, StringComparison.Ordinal))
            return shown;
        err.Write(text[shown.Length..]);
        err.Flush();
        return text;
    }

    static bool HasTokenizer(string dir) => File.Exists(Path.Combine(dir, "tokenizer.json")) || File.Exists(Path.Combine(dir, "tokenizer.model"));

    static HashSet<int> EosIds(Alora.Models.HfConfig config, TextTokenizer? tok)
    {
        var set = new HashSet<int>(config.EosTokenId ?? []);
        if (tok?.EosId is { } e)
            set.Add(e);
        return set;
    }

    internal static int[] ParseIds(string s)
    {
        try
        {
            return s.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries)
                .Select(x => int.Parse(x, CultureInfo.InvariantCulture))
                .ToArray();
        }
        catch (FormatException)
        {
            throw new AloraException($"--prompt-ids '{s}' is not a comma-separated list of integers");
        }
        catch (OverflowException)
        {
            throw new AloraException($"--prompt-ids '{s}' has an id out of range");
        }
    }
}
