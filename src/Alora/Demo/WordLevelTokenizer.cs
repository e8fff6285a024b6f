using System.Text;
using System.Text.Json;

namespace Alora.Demo;

/// <summary>
/// Builds a HuggingFace word-level tokenizer over the generated text. Lowercase normalizer (case carries no
/// information in this world and would double the vocabulary), Whitespace pre-tokenizer (\w+|[^\w\s]+, so
/// "vora-olol?" is "vora", "-", "olol", "?"), no post-processor (Encode returns only the words; BOS is the
/// caller's job, as tokenizer_config's add_bos_token says) and no decoder (the library then joins tokens with
/// single spaces). Ids: the four specials first, then every other token in ordinal order, so the file is a
/// pure function of the text.
/// </summary>
internal static class WordLevelTokenizer
{
    public static readonly string[] Specials = ["<unk>", "<s>", "</s>", "<pad>"];

    // Words an evaluation prompt adds around the data (lm-eval style "Question: ...\nAnswer:", MedMCQA letters),
    // plus the ten digits: always in the vocabulary even if the data never uses them.
    private static readonly string[] Always =
    [
        "question",
        "answer",
        "choices",
        "a",
        "b",
        "c",
        "d",
        ":",
        ".",
        "?",
        "0",
        "1",
        "2",
        "3",
        "4",
        "5",
        "6",
        "7",
        "8",
        "9",
    ];

    /// <summary>The word sequence the tokenizer sees: lowercased, split as the HF Whitespace pre-tokenizer splits
    /// (runs of \w, runs of [^\w\s]). A hand-written scanner rather than a Regex: it is the hot loop of generation.</summary>
    public static IEnumerable<string> PreTokenize(string text)
    {
        for (int i = 0; i < text.Length; )
        {
            int end = TokenEnd(text, ref i);
            if (end < 0)
            {
                yield break;
            }
            yield return text[i..end].ToLowerInvariant();
            i = end;
        }
    }

    public static int CountTokens(string text)
    {
        int n = 0;
        for (int i = 0; i < text.Length; n++)
        {
            int end = TokenEnd(text, ref i);
            if (end < 0)
            {
                break;
            }
            i = end;
        }
        return n;
    }

    /// <summary>Skips whitespace from <paramref name="start"/>, then returns the end of the token found there (-1 at the end of the text).</summary>
    private static int TokenEnd(string text, ref int start)
    {
        while (start < text.Length && char.IsWhiteSpace(text[start]))
        {
            start++;
        }
        if (start == text.Length)
        {
            return -1;
        }
        bool word = IsWordChar(text[start]);
        int end = start + 1;
        while (end < text.Length && !char.IsWhiteSpace(text[end]) && IsWordChar(text[end]) == word)
        {
            end++;
        }
        return end;
    }

    // \w as in the Rust and .NET regex engines: letters, marks, decimal digits, connector punctuation (underscore).
    private static bool IsWordChar(char c) =>
        c < 128
            ? char.IsAsciiLetterOrDigit(c) || c == '_'
            : char.GetUnicodeCategory(c)
                is >= System.Globalization.UnicodeCategory.UppercaseLetter
                    and <= System.Globalization.UnicodeCategory.DecimalDigitNumber
                    or System.Globalization.UnicodeCategory.ConnectorPunctuation;

    /// <summary>Adds the tokens of <paramref name="texts"/> to <paramref name="words"/>. Looks tokens up as lowercased
    /// spans and allocates a string only for a new word: this runs over every generated token.</summary>
    public static HashSet<string> Collect(IEnumerable<string> texts, HashSet<string>? words = null)
    {
        words ??= new HashSet<string>(StringComparer.Ordinal);
        var lookup = words.GetAlternateLookup<ReadOnlySpan<char>>();
        Span<char> lower = stackalloc char[256];
        foreach (string t in texts)
        {
            for (int i = 0; i < t.Length; )
            {
                int end = TokenEnd(t, ref i);
                if (end < 0)
                {
                    break;
                }
                var token = t.AsSpan(i, end - i);
                if (token.Length > lower.Length)
                {
                    words.Add(token.ToString().ToLowerInvariant());
                }
                else
                {
                    int n = token.ToLowerInvariant(lower);
                    lookup.Add(lower[..n]);
                }
                i = end;
            }
        }
        return words;
    }

    /// <summary>Specials, then the words (and the always-present prompt words and digits) in ordinal order.</summary>
    public static List<string> BuildVocab(IEnumerable<string> words)
    {
        var rest = words.Concat(Always).Where(w => !Specials.Contains(w)).Distinct(StringComparer.Ordinal).Order(StringComparer.Ordinal);
        return [.. Specials, .. rest];
    }

    public static string TokenizerJson(IReadOnlyList<string> vocab) =>
        Json(w =>
        {
            w.WriteString("version", "1.0");
            w.WriteNull("truncation");
            w.WriteNull("padding");
            w.WriteStartArray("added_tokens");
            for (int i = 0; i < Specials.Length; i++)
            {
                w.WriteStartObject();
                w.WriteNumber("id", i);
                w.WriteString("content", Specials[i]);
                w.WriteBoolean("single_word", false);
                w.WriteBoolean("lstrip", false);
                w.WriteBoolean("rstrip", false);
                w.WriteBoolean("normalized", false);
                w.WriteBoolean("special", true);
                w.WriteEndObject();
            }
            w.WriteEndArray();
            w.WriteStartObject("normalizer");
            w.WriteString("type", "Lowercase");
            w.WriteEndObject();
            w.WriteStartObject("pre_tokenizer");
            w.WriteString("type", "Whitespace");
            w.WriteEndObject();
            w.WriteNull("post_processor");
            w.WriteNull("decoder");
            w.WriteStartObject("model");
            w.WriteString("type", "WordLevel");
            w.WriteStartObject("vocab");
            for (int i = 0; i < vocab.Count; i++)
            {
                w.WriteNumber(vocab[i], i);
            }
            w.WriteEndObject();
            w.WriteString("unk_token", Specials[0]);
            w.WriteEndObject();
        });

    public static string TokenizerConfigJson(int modelMaxLength) =>
        Json(w =>
        {
            w.WriteBoolean("add_bos_token", true);
            w.WriteBoolean("add_eos_token", false);
            w.WriteString("bos_token", "<s>");
            w.WriteString("eos_token", "</s>");
            w.WriteString("pad_token", "<pad>");
            w.WriteString("unk_token", "<unk>");
            w.WriteNumber("model_max_length", modelMaxLength);
            w.WriteBoolean("clean_up_tokenization_spaces", false);
            w.WriteString("tokenizer_class", "PreTrainedTokenizerFast");
        });

    private static string Json(Action<Utf8JsonWriter> body)
    {
        using var stream = new MemoryStream();
        using (
            var w = new Utf8JsonWriter(
                stream,
                new JsonWriterOptions
                {
                    Indented = true,
                    NewLine = "\n",
                    Encoder = System.Text.Encodings.Web.JavaScriptEncoder.UnsafeRelaxedJsonEscaping,
                }
            )
        )
        {
            w.WriteStartObject();
            body(w);
            w.WriteEndObject();
        }
        return Encoding.UTF8.GetString(stream.ToArray()) + "\n";
    }
}
