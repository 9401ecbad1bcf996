/*
 * test_vtl.c — unit test of the Velocity Template Language interpreter for
 * API Gateway mapping templates (src/services/apigateway/vtl.c):
 *
 *   language     references (quiet, braced, undefined), literals, #set,
 *                #if/#elseif/#else, #foreach ($foreach, $velocityCount,
 *                #break, the 1000-iteration cap), #stop, comments, escapes,
 *                operators, Velocity 1.7 whitespace handling
 *   methods      String, List and Map methods, Java toString formatting
 *   API Gateway  $input.body/json/path/params, $util.*, $context,
 *                $stageVariables, response/request overrides, AWS's
 *                documented templates (petstore, all parameters)
 *   errors       syntax errors, runtime errors, limits
 *
 * Exits non-zero on a failure; the last line is "N passed, N failed".
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "services/apigateway/vtl.h"

static int passed, failed;
#include "check.h"

static const char *BODY =
    "{\"a\": {\"b\": \"x\"}, \"n\": 5, \"items\": [{\"id\": 1, \"type\": \"dog\", \"price\": 249.99},"
    " {\"id\": 2, \"type\": \"cat\", \"price\": 124.99}]}";

static vtl_input in;

static void setup(void)
{
    in.body = BODY;
    in.body_len = strlen(BODY);
    in.params = json_tokener_parse("{\"path\": {\"id\": \"42\"}, \"querystring\": {\"q\": \"hello world\", \"id\": \"qs\"},"
                                   " \"header\": {\"X-Api\": \"k\", \"Accept\": \"*/*\"}}");
    in.context = json_tokener_parse("{\"requestId\": \"req-1\", \"stage\": \"prod\", \"httpMethod\": \"POST\","
                                    " \"identity\": {\"sourceIp\": \"192.0.2.1\", \"userAgent\": \"curl/8\"}}");
    in.stage_vars = json_tokener_parse("{\"env\": \"test\"}");
}

/* Renders tpl with input i; returns the rc, output in *out (caller frees). */
static int run(const char *tpl, const vtl_input *i, char **out, char *err, json_object **ov)
{
    *out = NULL;
    vtl_tpl *t = vtl_parse(tpl, strlen(tpl), err, VTL_ERRMAX);
    if (!t)
        return 99;
    nb_buf b = {0};
    int rc = vtl_render_ex(t, i, &b, ov, err, VTL_ERRMAX);
    nb_buf_addc(&b, 0);
    *out = b.data;
    vtl_free(t);
    return rc;
}

static void ok_in(const char *tpl, const vtl_input *i, const char *want)
{
    char err[VTL_ERRMAX], *out;
    int rc = run(tpl, i, &out, err, NULL);
    if (check(rc == 0, "render %s: rc %d (%s)", tpl, rc, err))
        check(strcmp(out, want) == 0, "render %s:\n  got  [%s]\n  want [%s]", tpl, out, want);
    free(out);
}

static void ok(const char *tpl, const char *want) { ok_in(tpl, &in, want); }

static void fails_in(const char *tpl, const vtl_input *i, int want_rc, const char *want)
{
    char err[VTL_ERRMAX], *out;
    int rc = run(tpl, i, &out, err, NULL);
    if (check(rc == want_rc, "render %s: rc %d, want %d (%s)", tpl, rc, want_rc, err))
        check(strstr(err, want) != NULL, "error for %s: got '%s', want '%s'", tpl, err, want);
    free(out);
}

static void fails(const char *tpl, const char *want) { fails_in(tpl, &in, -1, want); }
static void bad(const char *tpl, const char *want) { fails_in(tpl, &in, 99, want); }

static void test_references(void)
{
    ok("hello", "hello");
    ok("$x", "$x");
    ok("$!x", "");
    ok("${x}", "${x}");
    ok("$!{x}|", "|");
    ok("$x.y.z('a')", "$x.y.z('a')");
    ok("#set($x = 1)$x ${x}s $!x", "1 1s 1");
    ok("#set($x = \"a\")${x}b $x.", "ab a.");
    ok("cost: $5 #5 $ #", "cost: $5 #5 $ #");
    ok("#set($m = {\"k\": \"v\", \"n\": {\"d\": 2}})$m.k $m.get(\"k\") $m[\"k\"] $m.n.d $m.nope", "v v v 2 $m.nope");
    ok("#set($l = [1, 2, 3])$l[0] $l.size() $l $l.get(2)", "1 3 [1, 2, 3] 3");
    ok("#set($m = {\"a\": 1, \"b\": [true, \"s\", 1.5]})$m", "{a=1, b=[true, s, 1.5]}");
    ok("#set($i = 1)#set($l = ['a', 'b'])$l[$i]", "b");
    ok("#set($a = 'x')#set($s = '$a')$s|#set($s = \"<$a>\")$s|#set($s = \"$!nope\")[$s]", "$a|<x>|[]");
    ok("#set($s = \"say \"\"hi\"\"\")$s #set($t = 'it''s')$t", "say \"hi\" it's");
    ok("#set($s = \"#if(true)yes#end\")$s", "yes");
    ok("#set($x = $nope)$x #set($y = 1)#set($y = $nope)$y", "$x 1");
    ok("#set($my-var = 3)$my-var", "3");
}

static void test_operators(void)
{
    ok("#set($a = 7)#set($b = 2)#set($r = $a + $b * 3)$r", "13");
    ok("#set($a = 7)#set($r = $a / 2)$r #set($r = $a % 2)$r #set($r = -$a - 1)$r", "3 1 -8");
    ok("#set($r = 7.0 / 2)$r #set($r = 1 * 1.0)$r #set($r = (1 + 2) * 3)$r", "3.5 1.0 9");
    ok("#set($r = 7 / 0)$r", "$r");
    ok("#set($r = 10000000.0)$r #set($r = 0.0001)$r #set($r = 123456.75)$r", "1.0E7 1.0E-4 123456.75");
    ok("#set($s = \"a\" + 1 + 2)$s #set($s = 1 + 2 + \"a\")$s", "a12 3a");
    ok("#set($r = 9223372036854775807 + 1)$r", "9.223372036854776E18");
    ok("#set($a = 7)#if($a > 5 && $a lt 8)y#end#if($a >= 7 and $a <= 7)y#end#if($a == 7.0)y#end", "yyy");
    ok("#set($a = 7)#if(!($a == 7))no#{else}yes#end", "yes");
    ok("#set($a = 7)#if($a eq 7 and not $c)y#end#if($a ne 7 or $a gt 7 or $a ge 8 or $a le 6)n#end", "y");
    ok("#set($a = 7)#if($a == \"7\")y#end#if(\"a\" != \"b\")y#end#if($nope == $nope2)y#end", "yyy");
    ok("#if(\"\")y#end#if(0)y#end#if(false)n#end#if($nope)n#end#if([])y#end", "yyy");
    ok("#set($x = [1, 2])#if($x == [1, 2])y#end#if({'a': 1} == {'a': 1})y#end#if('a' < 'b')n#end", "yy");
}

static void test_directives(void)
{
    ok("#set($a = 2)#if($a == 1)one#elseif($a == 2)two#elseif($a == 3)three#{else}other#end", "two");
    ok("#set($a = 9)#if($a == 1)one#elseif($a == 2)two#{else}other#end", "other");
    ok("#{if}(true)y#{end}#{if}(false)n#{elseif}(true)e#{end}", "ye");
    ok("#foreach($i in [1..3])$i#end #foreach($i in [3..1])$i#end", "123 321");
    ok("#foreach($i in [1, 2, 3])$i#if($foreach.hasNext),#end#end", "1,2,3");
    ok("#foreach($i in ['a', 'b'])$velocityCount$foreach.index$foreach.count$velocityHasNext#end", "101true212false");
    ok("#foreach($i in [1..3])#if($foreach.first)F#end#if($foreach.last)L#end#end", "FL");
    ok("#foreach($i in [1..5])#if($i == 3)#break#end$i#end after", "12 after");
    ok("#foreach($i in [1, 2])#foreach($j in ['a', 'b'])$i$j#if($j == 'a')#break#end#end;#end", "1a;2a;");
    ok("#foreach($i in [1, 2])$foreach.index#foreach($j in [5])$foreach.index#end$foreach.index#end", "000101");
    ok("a#stop b", "a");
    ok("#foreach($i in [1..3])$i#if($i == 2)#stop#end#end end", "12");
    ok("#set($i = 'x')#foreach($i in [1])$i#end$i $velocityCount", "1x $velocityCount");
    ok("#foreach($v in {'a': 1, 'b': 2})$v#end", "12");
    ok("#foreach($v in $nope)x#end#foreach($v in 'str')x#end#foreach($v in [])x#end.", ".");
    ok("#set($m = {'a': 1, 'b': 2})#foreach($k in $m.keySet())$k=$m.get($k);#end", "a=1;b=2;");
    ok("#set($m = {'a': 1, 'b': 2})#foreach($e in $m.entrySet())$e.key:$e.value #end", "a:1 b:2 ");
    ok("#set($n = 0)#foreach($i in [1..2000])#set($n = $n + 1)#end$n", "1000");
    ok("#foreach($i in [1, $nope, 3])$i#end", "1$i3");
}

static void test_comments_escapes(void)
{
    ok("a## comment\nb", "ab");
    ok("a#* block\n $x #if *#b", "ab");
    ok("#[[$x #if(]]#", "$x #if(");
    ok("\\$x", "\\$x");
    ok("#set($x = 1)\\$x \\\\$x \\\\\\$x", "$x \\1 \\$x");
    ok("\\#if(true) a\\b \\n", "#if(true) a\\b \\n");
    ok("\\#end", "#end");
}

static void test_whitespace(void)
{
    ok("#set($a = 1)\nline\n", "line\n");
    ok("  #set($a = 1)\nx\n\t#set($b = 2)  \ny", "x\ny");
    ok("#if(true)\nyes\n#end\nafter", "yes\nafter");
    ok("#if(false)\nno\n#else\nyes\n#end\n", "yes\n");
    ok("#foreach($i in [1, 2])\n  $i\n#end\n", "  1\n  2\n");
    ok("x #if(true) y #end z", "x  y  z");
    ok("a\r\n#set($x = 1)\r\nb", "a\r\nb");
    ok("#foreach($i in [1, 2])\n  #if($i == 2)\n  two\n  #end\n#end", "      two\n  ");
}

static void test_string_methods(void)
{
    ok("#set($s = ' Hello World ')$s.trim().length()|$s.trim().substring(0, 5)|$s.indexOf('o')|"
       "$s.replace('o', '0')|$s.toLowerCase()|$s.toUpperCase()|$s.trim().startsWith('He')|$s.endsWith(' ')|"
       "$s.contains('lo W')|$s.equals(' Hello World ')|$s.isEmpty()|$s.trim().matches('H.*d')|$s.empty",
       "11|Hello|5| Hell0 W0rld | hello world | HELLO WORLD |true|true|true|true|false|true|false");
    ok("#set($s = 'a1b22c333')$s.replaceAll('[0-9]+', '#')|$s.replaceAll('\\d', '')|$s.replaceFirst('\\d+', 'X')|"
       "$s.replaceAll('([a-z])([0-9])', '$2$1')|$s.matches('\\w+')|$s.matches('\\d+')",
       "a#b#c#|abc|aXb22c333|1a2b23c33|true|false");
    ok("#set($p = 'a,b,,c,,')$p.split(',').size() $p.split(',') #set($q = 'a1b2c')$q.split('[0-9]')",
       "4 [a, b, , c] [a, b, c]");
    ok("#set($s = 'héllo')$s.length() $s.substring(1, 3) $s.indexOf('l') $s.charAt(1) $s.lastIndexOf('l')",
       "5 él 2 é 3");
    ok("#set($s = 'abc')$s.replace('', '-') $s.concat('d') $s.indexOf('c', 1) $s.indexOf('z') $s.toString()",
       "-a-b-c- abcd 2 -1 abc");
    ok("#set($s = 'AbC')$s.equalsIgnoreCase('abc') $s.equals(1) $s.nope() $s.substring(1)", "true false $s.nope() bC");
    /* the regex engine: Java's leftmost-first priorities, lazy quantifiers, (?:), counts, anchors */
    ok("#set($s = 'abcabc')$s.replaceAll('a|ab', 'X') $s.replaceAll('(?:ab)+', '-') $s.replaceFirst('b.*?c', '_') "
       "$s.replaceFirst('b.*c', '_') $s.replaceAll('^a', '^') $s.replaceAll('c$', '$') $s.matches('(abc){2}') "
       "$s.matches('(abc){3}') $s.matches('[a-c]{2,6}') $s.replaceAll('[^b]', '.')",
       "XbcXbc -c-c a_abc a_ ^bcabc abcab$ true false true .b..b.");
    ok("#set($s = 'héllo wörld')$s.replaceAll('.', '*') $s.replaceAll('\\w+', 'W') $s.split('\\s') "
       "$s.replaceAll('(\\S)(\\S*)', '$2$1') $s.matches('.*\\d.*') $s.replaceAll('[éö]', 'E')",
       "*********** WéW WöW [héllo, wörld] élloh örldw false hEllo wErld");
    ok("#set($s = 'a1b2')$s.replaceAll('\\D', '') $s.replaceAll('[\\d]', '#') $s.replaceAll('x*', '-') "
       "$s.replaceAll('(a)|(b)', '[$1$2]') $s.split('') $s.replaceAll('\\.|\\[', '')",
       "12 a#b# -a-1-b-2- [a]1[b]2 [a, 1, b, 2] a1b2");
    fails("#set($s = 'ab')$s.replaceAll('a{5000}', '')", "repetition");
    fails("#set($s = 'ab')$s.replaceAll('((a{1000}){1000}){1000}', '')", "too complex");
    fails("#set($s = 'ab')$s.replaceAll('((){1000}){1000}', '')", "too complex");
    fails("#set($s = 'ab')$s.replaceAll('a++', '')", "possessive");
    fails("#set($s = 'ab')$s.replaceAll('(a', '')", "unclosed group");
    fails("#set($s = 'ab')$s.replaceAll('a)', '')", "unmatched");
    fails("#set($s = 'ab')$s.replaceAll('*a', '')", "dangling");
    fails("#set($s = 'ab')$s.replaceAll('[z-a]', '')", "range");
    /* a pattern glibc's matcher takes quadratic time on: bounded steps */
    fails("#set($s = 'ab')#foreach($i in [1..19])#set($s = \"$s$s\")#end$s.replaceAll('(a|b)*(a|b)*c', 'x')",
          "step budget");
    ok("#set($s = 'a.b.c')$s.replaceAll('\\.', '/') $s.replaceFirst('.', '-') $s.replaceAll('', '-') "
       "$s.replaceFirst('', '-') $s.split('\\.') $s.replaceAll('\\.', '$0$0')",
       "a/b/c -.b.c -a-.-b-.-c- -a.b.c [a, b, c] a..b..c");
    ok("#set($n = 42)$n.toString().length() #set($d = 2.5)$d.intValue()", "2 2");
    ok("$util.escapeJavaScript(\"it's\").replaceAll(\"\\\\'\", \"'\")", "it's");
}

static void test_collection_methods(void)
{
    ok("#set($l = [])$l.add('x')#set($d = $l.add('y'))$l.size() $l.get(1) $l.isEmpty() $l.contains('x') "
       "$l.indexOf('y') $l",
       "true2 y false true 1 [x, y]");
    ok("#set($l = [1, 2, 3, 4])$l.subList(1, 3) $l.remove(0) $l.set(0, 9) $l #set($d = $l.addAll([5]))$l",
       "[2, 3] 1 2 [9, 3, 4] [9, 3, 4, 5]");
    ok("#set($m = {})#set($d = $m.put('a', 1))$m.put('a', 2) $m.containsKey('a') $m.keySet() $m.size() "
       "$m.isEmpty() $m.values() $m.containsValue(2)",
       "1 true [a] 1 false [2] true");
    ok("#set($m = {})$m.put('b', 3)", "$m.put('b', 3)");
    ok("#set($m = {'a': 1})#set($d = $m.remove('a'))$m $d #set($d = $m.putAll({'x': [1]}))$m", "{} 1 {x=[1]}");
    ok("#set($m = {})#set($m.k = 'v')#set($m['j'] = 2)#set($m.n = {})#set($m.n.z = 1)$m", "{k=v, j=2, n={z=1}}");
    ok("#set($l = [1, 2])#set($l[1] = 'b')$l", "[1, b]");
    ok("#set($l = [1])$l.add($l)$l #set($m = {})$m.put('self', $m)$m", "true[1, [1]] $m.put('self', $m){self={}}");
    ok("#set($a = [])#set($b = $a)$b.add(1)$a", "true[1]");
}

static const char *PETSTORE = "#set($inputRoot = $input.path('$'))\n"
                              "[\n"
                              "#foreach($elem in $inputRoot.items)\n"
                              "  {\n"
                              "    \"description\" : \"Item $elem.id is a $elem.type.\",\n"
                              "    \"askingPrice\" : $elem.price\n"
                              "  }#if($foreach.hasNext),#end\n"
                              "\n"
                              "#end\n"
                              "]";

static const char *PETSTORE_OUT = "[\n"
                                  "  {\n"
                                  "    \"description\" : \"Item 1 is a dog.\",\n"
                                  "    \"askingPrice\" : 249.99\n"
                                  "  },\n"
                                  "  {\n"
                                  "    \"description\" : \"Item 2 is a cat.\",\n"
                                  "    \"askingPrice\" : 124.99\n"
                                  "  }\n"
                                  "]";

static const char *ALLPARAMS = "#set($allParams = $input.params())\n"
                               "{\n"
                               "\"params\" : {\n"
                               "#foreach($type in $allParams.keySet())\n"
                               "    #set($params = $allParams.get($type))\n"
                               "\"$type\" : {\n"
                               "    #foreach($paramName in $params.keySet())\n"
                               "    \"$paramName\" : \"$util.escapeJavaScript($params.get($paramName))\"\n"
                               "        #if($foreach.hasNext),#end\n"
                               "    #end\n"
                               "}\n"
                               "    #if($foreach.hasNext),#end\n"
                               "#end\n"
                               "}\n"
                               "}";

static void test_input(void)
{
    ok("$input.body", BODY);
    ok("$input.json('$.a')|$input.json('$.a.b')|$input.json('$.n')|$input.json('$.missing')|"
       "$input.json('$.items[1].price')",
       "{\"b\":\"x\"}|\"x\"|5||124.99");
    ok("$input.path('$.a.b')|$input.path('$.items').size()|$input.path('$.missing')|$input.path('$.items[0].type')|"
       "$input.path('$.items[*].id')|$input.path('$.a')|$input.path('$')['n']",
       "x|2||dog|[1, 2]|{b=x}|5");
    ok("#set($root = $input.path('$'))#foreach($e in $root.items)$e.id:$e.price;#end", "1:249.99;2:124.99;");
    ok(PETSTORE, PETSTORE_OUT);
    ok("$input.params('id')|$input.params('q')|$input.params('x-api')|$input.params('nope')|"
       "$input.params().header.get('X-Api')|$input.params().querystring.id|$input.params().path",
       "42|hello world|k||k|qs|{id=42}");
    ok(ALLPARAMS, "{\n\"params\" : {\n"
                  "\"path\" : {\n        \"id\" : \"42\"\n            }\n    ,"
                  "\"querystring\" : {\n        \"q\" : \"hello world\"\n        ,        \"id\" : \"qs\"\n            }\n    ,"
                  "\"header\" : {\n        \"X-Api\" : \"k\"\n        ,        \"Accept\" : \"*\\/*\"\n            }\n    }\n}");
    vtl_input e = in;
    e.body = "";
    e.body_len = 0;
    ok_in("$input.json('$')|$input.path('$').size()|$input.body|", &e, "{}|0||");
    e.body = "not json";
    e.body_len = 8;
    ok_in("$input.body", &e, "not json");
    fails_in("$input.json('$')", &e, VTL_EBODY, "Could not parse request body into json");
    e.body = " 42 ";
    e.body_len = 4;
    ok_in("$input.json('$')|$input.path('$')", &e, "42|42");
    e.body = "{\"big\": 18446744073709551615, \"neg\": -9223372036854775808, \"d\": 1e3, \"f\": 10.50}";
    e.body_len = strlen(e.body);
    ok_in("$input.path('$.big') $input.path('$.neg') $input.path('$.d') $input.path('$.f') $input.json('$.f')", &e,
          "18446744073709551615 -9223372036854775808 1000.0 10.5 10.50");
    e.body = "{\"a\": 1} x";
    e.body_len = strlen(e.body);
    fails_in("$input.path('$.a')", &e, VTL_EBODY, "Could not parse");
    fails("$input.json('a.b')", "Invalid JSONPath");
    vtl_input none = {0};
    ok_in("[$input.body][$input.params('x')][$context.stage][$stageVariables.x][$input.json('$')]", &none,
          "[][][][][{}]");
}

/* The SQS, DynamoDB and Step Functions integration templates of AWS's tutorials. */
static void test_integrations(void)
{
    vtl_input e = in;
    e.body = "{\"pageId\": \"p1\", \"userName\": \"ann\", \"message\": \"hi & bye\"}";
    e.body_len = strlen(e.body);
    ok_in("Action=SendMessage&MessageBody=$util.urlEncode($input.body)", &e,
          "Action=SendMessage&MessageBody=%7B%22pageId%22%3A+%22p1%22%2C+%22userName%22%3A+%22ann%22%2C+"
          "%22message%22%3A+%22hi+%26+bye%22%7D");
    ok_in("{\n    \"TableName\": \"Comments\",\n    \"Item\": {\n"
          "        \"commentId\": {\"S\": \"$context.requestId\"},\n"
          "        \"pageId\": {\"S\": \"$input.path('$.pageId')\"},\n"
          "        \"message\": {\"S\": \"$input.path('$.message')\"}\n    }\n}",
          &e,
          "{\n    \"TableName\": \"Comments\",\n    \"Item\": {\n        \"commentId\": {\"S\": \"req-1\"},\n"
          "        \"pageId\": {\"S\": \"p1\"},\n        \"message\": {\"S\": \"hi & bye\"}\n    }\n}");
    e.body = "{\"Count\": 2, \"Items\": [{\"commentId\": {\"S\": \"c1\"}, \"message\": {\"S\": \"m1\"}},"
             " {\"commentId\": {\"S\": \"c2\"}, \"message\": {\"S\": \"m2\"}}]}";
    e.body_len = strlen(e.body);
    ok_in("#set($inputRoot = $input.path('$'))\n{\n    \"comments\": [\n"
          "        #foreach($elem in $inputRoot.Items) {\n"
          "            \"commentId\": \"$elem.commentId.S\",\n"
          "            \"message\": \"$elem.message.S\"\n"
          "        }#if($foreach.hasNext),#end\n"
          "\t#end\n    ]\n}",
          &e,
          "{\n    \"comments\": [\n         {\n            \"commentId\": \"c1\",\n            \"message\": \"m1\"\n"
          "        },\t {\n            \"commentId\": \"c2\",\n            \"message\": \"m2\"\n        }\t    ]\n}");
    e.body = "{\"a\": \"it's\"}";
    e.body_len = strlen(e.body);
    ok_in("{\"input\": \"$util.escapeJavaScript($input.json('$'))\", \"stateMachineArn\": "
          "\"arn:aws:states:us-east-1:123456789012:stateMachine:$stageVariables.env\"}",
          &e,
          "{\"input\": \"{\\\"a\\\":\\\"it\\'s\\\"}\", \"stateMachineArn\": "
          "\"arn:aws:states:us-east-1:123456789012:stateMachine:test\"}");
}

static void test_util(void)
{
    ok("$util.escapeJavaScript(\"it's \"\"q\"\" \\ / \t\u00e9\U0001F600\")",
       "it\\'s \\\"q\\\" \\\\ \\/ \\t\\u00E9\\uD83D\\uDE00");
    ok("$util.escapeJavaScript($input.json('$.a'))", "{\\\"b\\\":\\\"x\\\"}");
    ok("$util.urlEncode('a b&c=d/\u00e9*~')|$util.urlDecode('a+b%26c%3D')|$util.urlDecode($util.urlEncode('x y+z'))",
       "a+b%26c%3Dd%2F%C3%A9*%7E|a b&c=|x y+z");
    ok("$util.base64Encode('hello')|$util.base64Decode('aGVsbG8=')|$util.base64Encode('')|", "aGVsbG8=|hello||");
    ok("#set($o = $util.parseJson('{\"a\": [1, 2], \"s\": \"t\"}'))$o.a[1] $o.s $o.a.size()", "2 t 2");
    ok("#set($o = $util.parseJson($input.json('$.items')))$o[1].type", "cat");
    ok("$util.nope('x')|$util.urlEncode()|$util.escapeJavaScript($nope)|$!util.urlEncode($nope)", "|||");
    ok("#set($u = $util)#set($i = $input)$u.base64Encode('a') $i.params('id') #set($input = 'mine')$input",
       "YQ== 42 mine");
    fails("$util.parseJson('{bad')", "parseJson");
    fails("$util.urlDecode('%zz')", "urlDecode");
    fails("$util.base64Decode('!!!')", "base64Decode");
}

static void test_context(void)
{
    ok("$context.requestId $context.identity.sourceIp $context.stage [$context.nope] [$context.identity.nope]",
       "req-1 192.0.2.1 prod [] []");
    ok("{ \"stage\" : \"$context.stage\", \"http_method\" : \"$context.httpMethod\", \"user-agent\" : "
       "\"$context.identity.userAgent\" }",
       "{ \"stage\" : \"prod\", \"http_method\" : \"POST\", \"user-agent\" : \"curl/8\" }");
    ok("$stageVariables.env [$stageVariables.missing] $stageVariables.get('env')", "test [] test");

    char err[VTL_ERRMAX], *out;
    json_object *ov = NULL;
    int rc = run("#set($context.responseOverride.status = 400)\n"
                 "#set($context.responseOverride.header.X-Custom = \"v-$context.stage\")\n"
                 "#set($context.requestOverride.querystring.q = 'z')\nbody",
                 &in, &out, err, &ov);
    json_object *want = json_tokener_parse("{\"responseOverride\": {\"status\": 400, \"header\": {\"X-Custom\": "
                                           "\"v-prod\"}}, \"requestOverride\": {\"querystring\": {\"q\": \"z\"}}}");
    check(rc == 0 && out && strcmp(out, "body") == 0, "overrides render: %d %s", rc, err);
    check(ov && json_object_equal(ov, want), "overrides: got %s", ov ? json_object_to_json_string(ov) : "(none)");
    json_object_put(want);
    json_object_put(ov);
    free(out);
    ov = (json_object *)1;
    rc = run("plain", &in, &out, err, &ov);
    check(rc == 0 && ov == NULL, "no overrides when none set");
    free(out);
    /* the caller's objects are not modified */
    ok("#set($context.stage = 'x')$input.params().header.put('X-Api', 'changed')$context.stage", "kx");
    ok("$context.stage $input.params('X-Api')", "prod k");
}

static void test_errors(void)
{
    bad("#if($a)x", "missing #end for #if");
    bad("#foreach($i in [1])x", "missing #end for #foreach");
    bad("x#end", "#end without");
    bad("#else", "#else/#elseif without #if");
    bad("#set($a 1)", "expected '='");
    bad("#set(1 = 1)", "reference on the left");
    bad("#set($a.b() = 1)", "method call");
    bad("#foreach($i $l)#end", "expected 'in'");
    bad("#foreach(i in $l)#end", "loop variable");
    bad("$a.b(", "expression");
    bad("#set($a = [1, 2)", "expected ',' or ']'");
    bad("#set($a = {'a' 1})", "expected ':'");
    bad("#* unterminated", "unterminated #* comment");
    bad("#[[ unterminated", "unterminated #[[");
    bad("#macro(x)#end", "unsupported directive #macro");
    bad("${a", "expected '}'");
    bad("#set($a = 'x)", "unterminated string");
    bad("#if", "expected '(' after #if");
    bad("#if(true", "expected ')'");
    bad("#if(1 +)#end", "unexpected character ')'");
    bad("#set($a = $b.c[1)", "expected ']'");
    bad("a\nb #set($x = @)", "line 2, column 13");
    bad("#set($a = \"$x.y(\")", "column 6 of a string literal");
    bad("#set($a = 99999999999999999999999999999999999999999999999999999999999999999)", "number too long");
    char deep[400];
    memset(deep, '(', 300);
    strcpy(deep + 300, "1)");
    char tpl[420];
    snprintf(tpl, sizeof tpl, "#set($a = %s)", deep);
    bad(tpl, "nested too deeply");
    fails("#set($l = [1])$l.get(5)", "out of bounds");
    fails("#set($l = [1])$l[1]", "out of bounds");
    fails("#set($s = 'abc')$s.substring(5)", "out of range");
    fails("#set($s = 'abc')$s.replaceAll('(?i)a', '')", "regular expression");
    fails("#set($s = 'abc')$s.replaceAll('(a)\\1', '')", "regular expression");
    fails("#set($s = 'abc')$s.matches('[')", "regular expression");
    fails("#set($r = [1..1000000])", "too large");
}

static void test_limits(void)
{
    fails("#foreach($a in [1..1000])#foreach($b in [1..1000])#foreach($c in [1..1000])#end#end#end", "steps");
    fails("#set($s = 'xxxxxxxxxx')#foreach($i in [1..30])#set($s = \"$s$s\")#end", "exceeds");
    fails("#set($s = 'xxxxxxxxxx')#foreach($i in [1..30])#set($s = $s + $s)#end", "exceeds");
    fails("#foreach($i in [1..100])#foreach($j in [1..1000])$input.body#end#end", "exceeds");
    fails("#set($a = [])#foreach($i in [1..200])#set($a = [$a])#end", "nested");
    /* a 2 MiB string escapes (only the result is bounded by VTL_MAX_OUTPUT) */
    ok("#set($s = 'ab')#foreach($i in [1..20])#set($s = \"$s$s\")#end$util.escapeJavaScript($s).length() "
       "$util.urlEncode($s).length()",
       "2097152 2097152");
    fails("#set($s = '//////')#foreach($i in [1..20])#set($s = \"$s$s\")#end$util.escapeJavaScript($s)", "exceeds");
    fails("#set($s = 'xxxxxxxxxx')#foreach($i in [1..19])#set($s = \"$s$s\")#end"
          "#set($l = [])#foreach($i in [1..100])#set($d = $l.add(\"$s!\"))#end",
          "used more than");
    ok("#foreach($i in [1..1000])#set($b = $input.body)#end$b.length()", "122");
    fails("#set($x = [])#foreach($i in [1..200])#set($d = $x.add([]))#set($x = $x[0])#end", "nested");
    fails("#set($m = {})#foreach($i in [1..200])#set($m.k = {'v': $m})#end", "nested");
    ok("#set($a = [])#foreach($i in [1..20])#set($a = [$a])#end$a.size()", "1");
    fails("#set($l = [1, 2])#foreach($i in [1..1000])#set($d = $l.addAll($l))#end", "");
    fails("#set($l = [1..1000])#foreach($i in [1..1000])#foreach($j in [1..1000])#set($d = $l == $l)#end#end", "steps");
    /* a long operator chain is one node: no deep recursion */
    size_t cap = 16 + 50000 * 4, o = 0;
    char *chain = malloc(cap);
    o += (size_t)snprintf(chain, cap, "#set($x = 1");
    for (int i = 0; i < 50000; i++)
        o += (size_t)snprintf(chain + o, cap - o, " + 1");
    snprintf(chain + o, cap - o, ")$x");
    ok(chain, "50001");
    free(chain);
    ok("#if(1 == 1 && 2 == 2 && !false || $x.y()) y #end#set($z = 1 - 2 - 3)$z #set($z = 2 * 3 % 4 / 2)$z", " y -4 1");
}

int main(void)
{
    setup();
    test_references();
    test_operators();
    test_directives();
    test_comments_escapes();
    test_whitespace();
    test_string_methods();
    test_collection_methods();
    test_input();
    test_integrations();
    test_util();
    test_context();
    test_errors();
    test_limits();
    json_object_put(in.params);
    json_object_put(in.context);
    json_object_put(in.stage_vars);
    printf("%d passed, %d failed\n", passed, failed);
    return failed ? 1 : 0;
}
