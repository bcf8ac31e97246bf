namespace TimeoutBudget.Tests;

/// <summary>
/// The plan JSON reader's contract as the analyzer and <see cref="BudgetPlan.Parse"/> rely on it: every value's kind,
/// text and exact position, and an error that says what is wrong and points at the offending character
/// (found untested by mutation testing).
/// </summary>
public sealed class PlanJsonMutationTests
{
    [Fact]
    public void Parse_records_the_kind_text_line_column_and_length_of_every_value()
    {
        var json = "{\n  \"a\": true,\n\t\"bb\": [false, null, \"x\\n\", -1.5e3, 0, 9]\n}";
        var root = PlanJson.Parse(json);

        Assert.Equal(PlanJsonKind.Object, root.Kind);
        Assert.Equal((1, 1, json.Length), (root.Line, root.Column, root.Length));
        Assert.Equal(["a", "bb"], root.Properties.Select(p => p.Name));
        Assert.Equal((2, 3), (root.Properties[0].Line, root.Properties[0].Column));
        Assert.Equal((3, 2), (root.Properties[1].Line, root.Properties[1].Column));
        Assert.Empty(root.Items);

        var flag = root.Properties[0].Value;
        Assert.Equal((PlanJsonKind.True, "true", 2, 8, 4), (flag.Kind, flag.Text, flag.Line, flag.Column, flag.Length));

        var array = root.Properties[1].Value;
        Assert.Equal((PlanJsonKind.Array, 3, 8), (array.Kind, array.Line, array.Column));
        Assert.Equal("[false, null, \"x\\n\", -1.5e3, 0, 9]".Length, array.Length);
        Assert.Empty(array.Properties);
        Assert.Equal(
            [
                (PlanJsonKind.False, "false", 3, 9, 5),
                (PlanJsonKind.Null, "null", 3, 16, 4),
                (PlanJsonKind.String, "x\n", 3, 22, 5),
                (PlanJsonKind.Number, "-1.5e3", 3, 29, 6),
                (PlanJsonKind.Number, "0", 3, 37, 1),
                (PlanJsonKind.Number, "9", 3, 40, 1),
            ],
            array.Items.Select(v => (v.Kind, v.Text, v.Line, v.Column, v.Length)));
        Assert.All(array.Items, v => Assert.Empty(v.Properties));
        Assert.All(array.Items, v => Assert.Empty(v.Items));
    }

    [Fact]
    public void Parse_treats_spaces_tabs_and_carriage_returns_as_whitespace_and_counts_lines_at_line_feeds()
    {
        var value = PlanJson.Parse(" \t\r\n\r\n \t 42 \t\r\n ");
        Assert.Equal((PlanJsonKind.Number, "42", 3, 4, 2), (value.Kind, value.Text, value.Line, value.Column, value.Length));
    }

    [Fact]
    public void Parse_error_positions_count_columns_from_the_start_of_the_current_line()
    {
        var exception = Assert.Throws<BudgetPlanException>(() => PlanJson.Parse("{\r\n\t\"a\": 1,\n  \"b\" 2 }"));
        Assert.Equal("Expected ':' after the property name \"b\" (line 3, column 7).", exception.Message);
        Assert.Equal((3, 7, 1), (exception.Line, exception.Column, exception.Length));
    }

    [Theory]
    [InlineData("{}", 2)]
    [InlineData("{ \n }", 5)]
    [InlineData("[]", 2)]
    [InlineData("[ \t ]", 5)]
    public void Parse_reads_empty_objects_and_arrays_with_their_full_length(string json, int length)
    {
        var value = PlanJson.Parse(json);
        Assert.Empty(value.Properties);
        Assert.Empty(value.Items);
        Assert.Equal(json[0] == '{' ? PlanJsonKind.Object : PlanJsonKind.Array, value.Kind);
        Assert.Equal((1, 1, length), (value.Line, value.Column, value.Length));
        Assert.Equal(string.Empty, value.Text);
    }

    [Fact]
    public void Parse_measures_nested_objects_and_arrays_from_their_own_opening_bracket()
    {
        var items = PlanJson.Parse("[ {}, { \"a\": 1 }, [ ], [ 2 ] ]").Items;
        Assert.Equal(
            [(PlanJsonKind.Object, 3, 2), (PlanJsonKind.Object, 7, 10), (PlanJsonKind.Array, 19, 3), (PlanJsonKind.Array, 24, 5)],
            items.Select(v => (v.Kind, v.Column, v.Length)));
        Assert.All(items, v => Assert.Equal(string.Empty, v.Text));
    }

    [Fact]
    public void Parse_accepts_exactly_the_maximum_nesting_depth_and_rejects_one_level_more()
    {
        var deepest = PlanJson.MaxDepth + 1;
        var accepted = PlanJson.Parse(new string('[', deepest) + new string(']', deepest));
        Assert.Equal(PlanJsonKind.Array, accepted.Kind);

        var exception = Assert.Throws<BudgetPlanException>(() => PlanJson.Parse(new string('[', deepest + 1) + new string(']', deepest + 1)));
        Assert.Equal($"The plan's JSON nests deeper than 256 levels (a plan has at most 32 layers) (line 1, column {deepest + 1}).", exception.Message);
        Assert.Equal(deepest + 1, exception.Column);
    }

    [Fact]
    public void Parse_counts_object_nesting_towards_the_maximum_depth()
    {
        static string Nested(int objects) => string.Concat(Enumerable.Repeat("{\"a\":", objects)) + "1" + new string('}', objects);

        Assert.Equal(PlanJsonKind.Object, PlanJson.Parse(Nested(PlanJson.MaxDepth)).Kind);

        var exception = Assert.Throws<BudgetPlanException>(() => PlanJson.Parse(Nested(PlanJson.MaxDepth + 1)));
        Assert.Equal($"The plan's JSON nests deeper than 256 levels (a plan has at most 32 layers) (line 1, column {(5 * (PlanJson.MaxDepth + 1)) + 1}).", exception.Message);
    }

    [Theory]
    [InlineData("", "The plan ends where a value was expected", 1)]
    [InlineData("   ", "The plan ends where a value was expected", 4)]
    [InlineData("[", "The plan ends where a value was expected", 2)]
    [InlineData("[1,", "The plan ends where a value was expected", 4)]
    [InlineData("{", "Expected a property name in double quotes", 2)]
    [InlineData("{ 1: 2 }", "Expected a property name in double quotes", 3)]
    [InlineData("{ \"a\": 1,", "Expected a property name in double quotes", 10)]
    [InlineData("{ \"a\": 1, }", "Expected a property name in double quotes", 11)]
    [InlineData("{ \"a\" 1 }", "Expected ':' after the property name \"a\"", 7)]
    [InlineData("{ \"a\"", "Expected ':' after the property name \"a\"", 6)]
    [InlineData("{ \"a\": 1 ", "The plan ends inside an object; expected ',' or '}'", 10)]
    [InlineData("{ \"a\": 1 x }", "Expected ',' or '}' but found 'x'", 10)]
    [InlineData("{ \"a\": 1 \"b\": 2 }", "Expected ',' or '}' but found '\"'", 10)]
    [InlineData("[1 ", "The plan ends inside an array; expected ',' or ']'", 4)]
    [InlineData("[1 2]", "Expected ',' or ']' but found '2'", 4)]
    [InlineData("[1 }", "Expected ',' or ']' but found '}'", 4)]
    [InlineData("[1] 2", "Unexpected text after the end of the plan", 5)]
    [InlineData("12x", "Unexpected text after the end of the plan", 3)]
    [InlineData("truex", "Unexpected text after the end of the plan", 5)]
    [InlineData("\"abc", "The plan ends inside a string", 5)]
    [InlineData("\"a\\", "The plan ends inside an escape sequence", 4)]
    [InlineData("\"a\tb\"", "A string contains a raw control character or line break", 3)]
    [InlineData("\"a\nb\"", "A string contains a raw control character or line break", 3)]
    [InlineData("\"a\\q\"", "Invalid escape '\\q'", 3)]
    [InlineData("\"a\\\u0001\"", "Invalid escape '\\\\u0001'", 3)]
    [InlineData("\"\\u41\"", "Invalid \\u escape: expected four hexadecimal digits", 4)]
    [InlineData("\"\\u41", "Invalid \\u escape: expected four hexadecimal digits", 4)]
    [InlineData("\"\\u00g1\"", "Invalid \\u escape: expected four hexadecimal digits", 4)]
    [InlineData("\"\\u0041", "The plan ends inside a string", 8)]
    [InlineData("-", "Malformed number \"-\"", 1)]
    [InlineData("[ 1.2.3 ]", "Malformed number \"1.2.3\"", 3)]
    [InlineData("[ 1e ]", "Malformed number \"1e\"", 3)]
    [InlineData("tru", "Unexpected text; did you mean 'true'? Durations are written as strings, e.g. \"30s\"", 1)]
    [InlineData("[ fals ]", "Unexpected text; did you mean 'false'? Durations are written as strings, e.g. \"30s\"", 3)]
    [InlineData("nul", "Unexpected text; did you mean 'null'? Durations are written as strings, e.g. \"30s\"", 1)]
    [InlineData("x", "Unexpected character 'x' where a value was expected", 1)]
    [InlineData("[ /", "Unexpected character '/' where a value was expected", 3)]
    [InlineData(":", "Unexpected character ':' where a value was expected", 1)]
    [InlineData("+1", "Unexpected character '+' where a value was expected", 1)]
    [InlineData("\u0001", "Unexpected character '\\u0001' where a value was expected", 1)]
    [InlineData("\u007F", "Unexpected character '\\u007f' where a value was expected", 1)]
    public void Parse_errors_say_what_is_wrong_and_point_at_the_offending_character(string json, string message, int column)
    {
        var exception = Assert.Throws<BudgetPlanException>(() => PlanJson.Parse(json));
        Assert.Equal($"{message} (line 1, column {column}).", exception.Message);
        Assert.Equal((1, column, 1), (exception.Line, exception.Column, exception.Length));
    }

    [Fact]
    public void Parse_points_a_duplicate_property_at_the_second_name_with_its_quoted_length()
    {
        var exception = Assert.Throws<BudgetPlanException>(() => PlanJson.Parse("{ \"ab\": 1,\n  \"ab\": 2 }"));
        Assert.Equal("Duplicate property \"ab\": each key may appear once (line 2, column 3).", exception.Message);
        Assert.Equal((2, 3, 4), (exception.Line, exception.Column, exception.Length));
    }

    [Fact]
    public void Parse_keeps_properties_whose_names_differ_only_in_case()
    {
        var value = PlanJson.Parse("{ \"a\": 1, \"A\": 2 }");
        Assert.Equal(["a", "A"], value.Properties.Select(p => p.Name));
    }

    [Fact]
    public void Parse_decodes_every_escape_and_keeps_spaces_and_non_ascii_text()
    {
        var value = PlanJson.Parse("\"\\\"\\\\\\/\\b\\f\\n\\r\\t\\u0041\\u00E9\\u00e9 é~\"");
        Assert.Equal(PlanJsonKind.String, value.Kind);
        Assert.Equal("\"\\/\b\f\n\r\tAéé é~", value.Text);
        Assert.Equal(39, value.Length);
    }

    [Theory]
    [InlineData("0")]
    [InlineData("-0.5")]
    [InlineData("1.25")]
    [InlineData("1e3")]
    [InlineData("1E3")]
    [InlineData("1e+3")]
    [InlineData("2e-3")]
    [InlineData("12345678901234567890123456789012")]
    public void Parse_reads_numbers_with_fractions_exponents_and_up_to_32_characters(string number)
    {
        var value = PlanJson.Parse($"[ {number} ]").Items[0];
        Assert.Equal((PlanJsonKind.Number, number, 3, number.Length), (value.Kind, value.Text, value.Column, value.Length));
    }

    [Fact]
    public void Parse_rejects_a_number_longer_than_32_characters()
    {
        const string number = "123456789012345678901234567890123";
        var exception = Assert.Throws<BudgetPlanException>(() => PlanJson.Parse($"[ {number} ]"));
        Assert.Equal($"Malformed number \"{number}\" (line 1, column 3).", exception.Message);
    }

    [Theory]
    [InlineData("{ }", "an object")]
    [InlineData("[ ]", "an array")]
    [InlineData("\"30s\"", "the string \"30s\"")]
    [InlineData("-12.5", "the number -12.5")]
    [InlineData("true", "true")]
    [InlineData("false", "false")]
    [InlineData("null", "null")]
    public void Describe_names_the_kind_and_quotes_the_value(string json, string description) =>
        Assert.Equal(description, PlanJson.Parse(json).Describe());
}
