package runspec

import (
	"strings"
	"testing"
)

func TestDecodeProgress(t *testing.T) {
	p, err := DecodeProgress([]byte(`{"kind":"finetune","shard":2,"stage":"fine-tuning","unit":"users","done":40,"total":100,"stageSeconds":12.5}`))
	if err != nil {
		t.Fatal(err)
	}
	if want := (Progress{Kind: KindFinetune, Shard: 2, Stage: "fine-tuning", Unit: UnitUsers, Done: 40, Total: 100, StageSeconds: 12.5}); *p != want {
		t.Fatalf("decoded %+v, want %+v", *p, want)
	}
	for name, doc := range map[string]string{
		"done above total": `{"stage":"x","done":101,"total":100,"stageSeconds":1}`,
		"negative done":    `{"stage":"x","done":-1,"total":100,"stageSeconds":1}`,
		"unknown unit":     `{"stage":"x","unit":"bytes","done":1,"total":100,"stageSeconds":1}`,
		"negative shard":   `{"shard":-1,"stage":"x","done":1,"total":100,"stageSeconds":1}`,
		"negative seconds": `{"stage":"x","done":1,"total":100,"stageSeconds":-1}`,
		"unknown field":    `{"stage":"x","done":1,"total":100,"stageSeconds":1,"extra":true}`,
		"stage markup":     `{"stage":"<b>x</b>","done":1,"total":100,"stageSeconds":1}`,
		"too large":        `{"stage":"` + strings.Repeat("a", MaxProgressBytes) + `"}`,
	} {
		if _, err := DecodeProgress([]byte(doc)); err == nil {
			t.Errorf("%s: %s was accepted", name, doc)
		}
	}
}
