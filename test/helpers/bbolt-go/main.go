// bboltcheck: the reference implementation's view of a bbolt file, for ctrx's
// engine tests. Built against Debian's go.etcd.io/bbolt (GOPATH mode).
//
//	bboltcheck check FILE        tx.Check() plus a raw structural walk; exit 1 on any error
//	bboltcheck dump FILE         the whole tree as JSON (hex keys/values, sequences)
//	bboltcheck apply FILE SCRIPT apply a JSON script of transactions (creates FILE if missing)
//	bboltcheck hold FILE         open read-write (flock EX), print "ready"; stdin lines
//	                             "put BUCKETHEX KEYHEX VALHEX" commit one put each and print "ok";
//	                             "churn N" commit N transactions that each replace bucket
//	                             "churn" with 50 keys "<i>-<j>" = 200 × byte(i) and "counter" = i
package main

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"hash/fnv"
	"os"
	"strconv"
	"strings"
	"time"

	bolt "go.etcd.io/bbolt"
)

func main() {
	if len(os.Args) < 3 {
		fmt.Fprintln(os.Stderr, "usage: bboltcheck check|dump|apply|hold FILE [SCRIPT]")
		os.Exit(2)
	}
	var err error
	switch os.Args[1] {
	case "check":
		err = check(os.Args[2])
	case "dump":
		err = dump(os.Args[2])
	case "apply":
		if len(os.Args) < 4 {
			err = fmt.Errorf("apply needs a script")
		} else {
			err = apply(os.Args[2], os.Args[3])
		}
	case "hold":
		err = hold(os.Args[2])
	default:
		err = fmt.Errorf("unknown mode %q", os.Args[1])
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "error:", err)
		os.Exit(1)
	}
}

// ---------------------------------------------------------------- check

func check(path string) error {
	var errs []string
	errs = append(errs, rawCheck(path)...)
	db, err := bolt.Open(path, 0600, &bolt.Options{ReadOnly: true, Timeout: 10 * time.Second})
	if err != nil {
		return fmt.Errorf("open: %v", err)
	}
	defer db.Close()
	err = db.View(func(tx *bolt.Tx) error {
		for e := range tx.Check() {
			errs = append(errs, "tx.Check: "+e.Error())
		}
		return nil
	})
	if err != nil {
		return err
	}
	if len(errs) > 0 {
		for _, e := range errs {
			fmt.Println(e)
		}
		return fmt.Errorf("%d problems", len(errs))
	}
	fmt.Println("ok")
	return nil
}

// rawCheck walks the file's bytes independently of the bbolt package and
// checks what bbolt 1.3.6's tx.Check does not: key order within and across
// pages, branch keys equal to their child's first key, page header ids and
// flags, inline buckets without sub-buckets, top-level keys being buckets,
// meta slots, and the file covering the high-water mark.
type raw struct {
	data []byte
	ps   uint64
	hw   uint64
	errs []string
}

func (r *raw) errf(f string, a ...interface{}) { r.errs = append(r.errs, "raw: "+fmt.Sprintf(f, a...)) }

func rawCheck(path string) []string {
	data, err := os.ReadFile(path)
	if err != nil {
		return []string{"raw: read: " + err.Error()}
	}
	r := &raw{data: data}
	type meta struct {
		ok                                   bool
		ps, root, freelist, pgid, txid, slot uint64
	}
	readMeta := func(off uint64, slot uint64) meta {
		if off+80 > uint64(len(data)) {
			return meta{}
		}
		m := data[off+16 : off+80]
		if binary.LittleEndian.Uint32(m[0:]) != 0xED0CDAED || binary.LittleEndian.Uint32(m[4:]) != 2 {
			return meta{}
		}
		h := fnv.New64a()
		h.Write(m[:56])
		if h.Sum64() != binary.LittleEndian.Uint64(m[56:]) {
			return meta{}
		}
		return meta{ok: true, ps: uint64(binary.LittleEndian.Uint32(m[8:])), root: binary.LittleEndian.Uint64(m[16:]),
			freelist: binary.LittleEndian.Uint64(m[32:]), pgid: binary.LittleEndian.Uint64(m[40:]), txid: binary.LittleEndian.Uint64(m[48:]), slot: slot}
	}
	m0 := readMeta(0, 0)
	if !m0.ok {
		r.errf("meta 0 invalid")
		return r.errs
	}
	m1 := readMeta(m0.ps, 1)
	cur := m0
	if m1.ok && m1.txid > m0.txid {
		cur = m1
	}
	for _, m := range []meta{m0, m1} {
		if m.ok && m.txid%2 != m.slot {
			r.errf("meta %d holds txid %d", m.slot, m.txid)
		}
		if m.ok && m.ps != m0.ps {
			r.errf("meta %d page size %d != %d", m.slot, m.ps, m0.ps)
		}
	}
	r.ps, r.hw = cur.ps, cur.pgid
	if uint64(len(data)) < r.hw*r.ps {
		r.errf("file is %d bytes, high-water mark needs %d", len(data), r.hw*r.ps)
		return r.errs
	}
	if cur.root < 2 || cur.root >= r.hw {
		r.errf("root %d outside [2,%d)", cur.root, r.hw)
		return r.errs
	}
	if cur.freelist != ^uint64(0) && (cur.freelist < 2 || cur.freelist >= r.hw) {
		r.errf("freelist %d outside [2,%d)", cur.freelist, r.hw)
	}
	r.bucket(cur.root, nil, "root", true, 0)
	return r.errs
}

type elem struct {
	flags uint32
	key   []byte
	value []byte
	child uint64
}

func (r *raw) parse(buf []byte, where string) (uint16, []elem, bool) {
	if len(buf) < 16 {
		r.errf("%s: truncated page", where)
		return 0, nil, false
	}
	flags := binary.LittleEndian.Uint16(buf[8:])
	count := int(binary.LittleEndian.Uint16(buf[10:]))
	if flags != 1 && flags != 2 {
		r.errf("%s: flags %#x", where, flags)
		return 0, nil, false
	}
	if 16+16*count > len(buf) {
		r.errf("%s: %d elements do not fit", where, count)
		return 0, nil, false
	}
	els := make([]elem, count)
	for i := 0; i < count; i++ {
		e := 16 + 16*i
		if flags == 2 {
			f := binary.LittleEndian.Uint32(buf[e:])
			pos := e + int(binary.LittleEndian.Uint32(buf[e+4:]))
			ks := int(binary.LittleEndian.Uint32(buf[e+8:]))
			vs := int(binary.LittleEndian.Uint32(buf[e+12:]))
			if pos+ks+vs > len(buf) {
				r.errf("%s: element %d out of bounds", where, i)
				return 0, nil, false
			}
			if f > 1 {
				r.errf("%s: element %d flags %#x", where, i, f)
			}
			els[i] = elem{flags: f, key: buf[pos : pos+ks], value: buf[pos+ks : pos+ks+vs]}
		} else {
			pos := e + int(binary.LittleEndian.Uint32(buf[e:]))
			ks := int(binary.LittleEndian.Uint32(buf[e+4:]))
			if pos+ks > len(buf) {
				r.errf("%s: element %d out of bounds", where, i)
				return 0, nil, false
			}
			els[i] = elem{key: buf[pos : pos+ks], child: binary.LittleEndian.Uint64(buf[e+8:])}
		}
		if len(els[i].key) == 0 {
			r.errf("%s: element %d has an empty key", where, i)
		}
		if i > 0 && bytes.Compare(els[i-1].key, els[i].key) >= 0 {
			r.errf("%s: keys out of order at %d", where, i)
		}
	}
	return flags, els, true
}

// bucket checks one bucket's tree; keys must lie in [lo, hi) (hi nil = unbounded).
func (r *raw) bucket(root uint64, inline []byte, name string, top bool, depth int) {
	if depth > 64 {
		r.errf("%s: buckets nested too deep", name)
		return
	}
	if root == 0 {
		flags, els, ok := r.parse(inline, name+" (inline)")
		if !ok {
			return
		}
		if flags != 2 {
			r.errf("%s: inline page is not a leaf", name)
		}
		if binary.LittleEndian.Uint64(inline[0:]) != 0 {
			r.errf("%s: inline page id is not 0", name)
		}
		for _, e := range els {
			if e.flags&1 != 0 {
				r.errf("%s: inline bucket has sub-bucket %x", name, e.key)
			}
		}
		return
	}
	r.node(root, nil, nil, name, top, 0, depth)
}

func (r *raw) node(id uint64, lo, hi []byte, name string, top bool, level, depth int) []byte {
	where := fmt.Sprintf("%s page %d", name, id)
	if id < 2 || id >= r.hw {
		r.errf("%s: id outside [2,%d)", where, r.hw)
		return nil
	}
	if level > 64 {
		r.errf("%s: tree too deep", where)
		return nil
	}
	off := id * r.ps
	hdr := r.data[off:]
	if got := binary.LittleEndian.Uint64(hdr[0:]); got != id {
		r.errf("%s: header id %d", where, got)
		return nil
	}
	ov := uint64(binary.LittleEndian.Uint32(hdr[12:]))
	if id+ov >= r.hw {
		r.errf("%s: overflow %d past high-water mark", where, ov)
		return nil
	}
	buf := r.data[off : off+(ov+1)*r.ps]
	flags, els, ok := r.parse(buf, where)
	if !ok {
		return nil
	}
	if len(els) == 0 && level > 0 {
		r.errf("%s: empty non-root page", where)
	}
	for i, e := range els {
		if lo != nil && bytes.Compare(e.key, lo) < 0 {
			r.errf("%s: key %x below parent's key %x", where, e.key, lo)
		}
		if hi != nil && bytes.Compare(e.key, hi) >= 0 {
			r.errf("%s: key %x not below next parent key %x", where, e.key, hi)
		}
		if flags == 1 {
			var next []byte
			if i+1 < len(els) {
				next = els[i+1].key
			} else {
				next = hi
			}
			first := r.node(e.child, e.key, next, name, top, level+1, depth)
			if first != nil && !bytes.Equal(first, e.key) {
				r.errf("%s: branch key %x != child %d first key %x", where, e.key, e.child, first)
			}
			continue
		}
		if top && e.flags&1 == 0 {
			r.errf("%s: top-level key %x is not a bucket", where, e.key)
		}
		if e.flags&1 != 0 {
			if len(e.value) < 16 {
				r.errf("%s: bucket value of %d bytes", where, len(e.value))
				continue
			}
			root := binary.LittleEndian.Uint64(e.value[0:])
			sub := name + "/" + printable(e.key)
			if root == 0 {
				r.bucket(0, e.value[16:], sub, false, depth+1)
			} else {
				if len(e.value) != 16 {
					r.errf("%s: non-inline bucket value of %d bytes", sub, len(e.value))
				}
				r.bucket(root, nil, sub, false, depth+1)
			}
		}
	}
	if len(els) == 0 {
		return nil
	}
	return els[0].key
}

func printable(b []byte) string {
	for _, c := range b {
		if c < 0x20 || c > 0x7e {
			return hex.EncodeToString(b)
		}
	}
	return string(b)
}

// ---------------------------------------------------------------- dump

type jbucket struct {
	Seq     string   `json:"seq"`
	Entries []jentry `json:"entries"`
}
type jentry struct {
	K string   `json:"k"`
	V *string  `json:"v,omitempty"`
	B *jbucket `json:"b,omitempty"`
}

func dumpBucket(b *bolt.Bucket) *jbucket {
	out := &jbucket{Seq: strconv.FormatUint(b.Sequence(), 10), Entries: []jentry{}}
	c := b.Cursor()
	for k, v := c.First(); k != nil; k, v = c.Next() {
		e := jentry{K: hex.EncodeToString(k)}
		if v == nil {
			e.B = dumpBucket(b.Bucket(k))
		} else {
			s := hex.EncodeToString(v)
			e.V = &s
		}
		out.Entries = append(out.Entries, e)
	}
	return out
}

func dump(path string) error {
	db, err := bolt.Open(path, 0600, &bolt.Options{ReadOnly: true, Timeout: 10 * time.Second})
	if err != nil {
		return err
	}
	defer db.Close()
	return db.View(func(tx *bolt.Tx) error {
		root := &jbucket{Seq: "0", Entries: []jentry{}}
		c := tx.Cursor()
		for k, _ := c.First(); k != nil; k, _ = c.Next() {
			root.Entries = append(root.Entries, jentry{K: hex.EncodeToString(k), B: dumpBucket(tx.Bucket(k))})
		}
		enc := json.NewEncoder(os.Stdout)
		return enc.Encode(root)
	})
}

// ---------------------------------------------------------------- apply

type op struct {
	Op    string   `json:"op"`
	Path  []string `json:"path"`
	Key   string   `json:"key"`
	Value string   `json:"value"`
	Seq   string   `json:"seq"`
}
type script struct {
	NoFreelistSync bool   `json:"noFreelistSync"`
	PageSize       int    `json:"pageSize"`
	Txs            [][]op `json:"txs"`
}

func unhex(s string) []byte {
	b, err := hex.DecodeString(s)
	if err != nil {
		panic(err)
	}
	return b
}

func apply(path, scriptPath string) error {
	raw, err := os.ReadFile(scriptPath)
	if err != nil {
		return err
	}
	var sc script
	if err := json.Unmarshal(raw, &sc); err != nil {
		return err
	}
	db, err := bolt.Open(path, 0600, &bolt.Options{Timeout: 10 * time.Second, NoFreelistSync: sc.NoFreelistSync, PageSize: sc.PageSize})
	if err != nil {
		return err
	}
	defer db.Close()
	for ti, ops := range sc.Txs {
		err := db.Update(func(tx *bolt.Tx) error {
			for _, o := range ops {
				if err := applyOp(tx, o); err != nil {
					return fmt.Errorf("%s %v %s: %v", o.Op, o.Path, o.Key, err)
				}
			}
			return nil
		})
		if err != nil {
			return fmt.Errorf("tx %d: %v", ti, err)
		}
	}
	return nil
}

func applyOp(tx *bolt.Tx, o op) error {
	if len(o.Path) == 0 {
		switch o.Op {
		case "createBucket":
			_, err := tx.CreateBucketIfNotExists(unhex(o.Key))
			return err
		case "deleteBucket":
			return tx.DeleteBucket(unhex(o.Key))
		}
		return fmt.Errorf("op needs a bucket path")
	}
	b := tx.Bucket(unhex(o.Path[0]))
	for _, p := range o.Path[1:] {
		if b == nil {
			break
		}
		b = b.Bucket(unhex(p))
	}
	if b == nil {
		return fmt.Errorf("no such bucket")
	}
	switch o.Op {
	case "put":
		return b.Put(unhex(o.Key), unhex(o.Value))
	case "delete":
		return b.Delete(unhex(o.Key))
	case "createBucket":
		_, err := b.CreateBucketIfNotExists(unhex(o.Key))
		return err
	case "deleteBucket":
		return b.DeleteBucket(unhex(o.Key))
	case "setSequence":
		n, err := strconv.ParseUint(o.Seq, 10, 64)
		if err != nil {
			return err
		}
		return b.SetSequence(n)
	case "nextSequence":
		_, err := b.NextSequence()
		return err
	}
	return fmt.Errorf("unknown op")
}

// ---------------------------------------------------------------- hold

func hold(path string) error {
	db, err := bolt.Open(path, 0600, &bolt.Options{Timeout: 10 * time.Second})
	if err != nil {
		return err
	}
	defer db.Close()
	fmt.Printf("ready %d\n", os.Getpid())
	sc := bufio.NewScanner(os.Stdin)
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		if len(f) == 4 && f[0] == "put" {
			err := db.Update(func(tx *bolt.Tx) error {
				b, err := tx.CreateBucketIfNotExists(unhex(f[1]))
				if err != nil {
					return err
				}
				return b.Put(unhex(f[2]), unhex(f[3]))
			})
			if err != nil {
				return err
			}
			fmt.Println("ok")
		} else if len(f) == 2 && f[0] == "churn" {
			n, err := strconv.Atoi(f[1])
			if err != nil {
				return err
			}
			if err := churn(db, n); err != nil {
				return err
			}
			fmt.Println("ok")
		} else {
			fmt.Println("?")
		}
	}
	return nil
}

// churn rewrites the same bucket over and over so that freed pages get
// reused quickly: a lock-free reader of an old snapshot must notice.
func churn(db *bolt.DB, n int) error {
	for i := 1; i <= n; i++ {
		err := db.Update(func(tx *bolt.Tx) error {
			b, err := tx.CreateBucketIfNotExists([]byte("churn"))
			if err != nil {
				return err
			}
			for j := 0; j < 50; j++ {
				if err := b.Delete([]byte(fmt.Sprintf("%d-%d", i-1, j))); err != nil {
					return err
				}
				if err := b.Put([]byte(fmt.Sprintf("%d-%d", i, j)), bytes.Repeat([]byte{byte(i)}, 200)); err != nil {
					return err
				}
			}
			return b.Put([]byte("counter"), []byte(strconv.Itoa(i)))
		})
		if err != nil {
			return err
		}
	}
	return nil
}
