"""Built-in name lists for the fictitious roster generator.

Common Japanese names in JIS X 0208 characters with their full-width katakana readings
(eportal-standard.md §4.2: no 外字, kana full-width), and place names for school names. Each entry
is ``表記:ヨミ``, read into pairs once at import. Pure data: nothing here is a real person.
"""

from __future__ import annotations


def _pairs(table: str) -> tuple[tuple[str, str], ...]:
    """``"山田:ヤマダ 佐藤:サトウ"`` → ``(("山田", "ヤマダ"), ("佐藤", "サトウ"))``."""
    return tuple((left, right) for left, _, right in (e.partition(":") for e in table.split()))


FAMILY_NAMES = _pairs(
    "佐藤:サトウ 鈴木:スズキ 高橋:タカハシ 田中:タナカ 伊藤:イトウ 渡辺:ワタナベ 山本:ヤマモト "
    "中村:ナカムラ 小林:コバヤシ 加藤:カトウ 吉田:ヨシダ 山田:ヤマダ 佐々木:ササキ 山口:ヤマグチ "
    "松本:マツモト 井上:イノウエ 木村:キムラ 林:ハヤシ 斎藤:サイトウ 清水:シミズ 山崎:ヤマザキ "
    "森:モリ 池田:イケダ 橋本:ハシモト 阿部:アベ 石川:イシカワ 山下:ヤマシタ 中島:ナカジマ "
    "石井:イシイ 小川:オガワ 前田:マエダ 岡田:オカダ 長谷川:ハセガワ 藤田:フジタ 後藤:ゴトウ "
    "近藤:コンドウ 村上:ムラカミ 遠藤:エンドウ 青木:アオキ 坂本:サカモト 福田:フクダ 太田:オオタ "
    "西村:ニシムラ 藤井:フジイ 金子:カネコ 岡本:オカモト 藤原:フジワラ 中野:ナカノ 三浦:ミウラ "
    "原田:ハラダ 中川:ナカガワ 松田:マツダ 竹内:タケウチ 小野:オノ 田村:タムラ 中山:ナカヤマ "
    "和田:ワダ 石田:イシダ 森田:モリタ 上田:ウエダ 原:ハラ 内田:ウチダ 柴田:シバタ 酒井:サカイ "
    "宮崎:ミヤザキ 横山:ヨコヤマ 高木:タカギ 安藤:アンドウ 宮本:ミヤモト 大野:オオノ 小島:コジマ "
    "谷口:タニグチ 今井:イマイ 工藤:クドウ 高田:タカダ 増田:マスダ 丸山:マルヤマ 杉山:スギヤマ "
    "村田:ムラタ 大塚:オオツカ 小山:コヤマ 藤本:フジモト 平野:ヒラノ 新井:アライ 上野:ウエノ "
    "野口:ノグチ 武田:タケダ 松井:マツイ 千葉:チバ 岩崎:イワサキ 菅原:スガワラ 木下:キノシタ "
    "久保:クボ 佐野:サノ 野村:ノムラ 松尾:マツオ 杉本:スギモト 市川:イチカワ 古川:フルカワ "
    "大西:オオニシ 島田:シマダ 水野:ミズノ 桜井:サクライ 高野:タカノ 吉川:ヨシカワ 山内:ヤマウチ "
    "西田:ニシダ 飯田:イイダ 菊池:キクチ 西川:ニシカワ 小松:コマツ 北村:キタムラ 安田:ヤスダ "
    "五十嵐:イガラシ 川口:カワグチ 平田:ヒラタ 関:セキ 中田:ナカタ 久保田:クボタ 服部:ハットリ "
    "岩田:イワタ 土屋:ツチヤ 川崎:カワサキ 福島:フクシマ 本田:ホンダ 樋口:ヒグチ 秋山:アキヤマ "
    "田口:タグチ 永井:ナガイ 山中:ヤマナカ 中西:ナカニシ 吉村:ヨシムラ 川上:カワカミ 石原:イシハラ "
    "大橋:オオハシ 松岡:マツオカ 馬場:ババ 浅野:アサノ 荒木:アラキ 大久保:オオクボ 野田:ノダ "
    "小池:コイケ 星野:ホシノ 松下:マツシタ 内藤:ナイトウ 岡崎:オカザキ 桑原:クワバラ 堀:ホリ"
)

BOYS_GIVEN_NAMES = _pairs(
    "蓮:レン 陽翔:ハルト 湊:ミナト 蒼:アオイ 樹:イツキ 大和:ヤマト 悠真:ユウマ 陽太:ヒナタ "
    "朝陽:アサヒ 悠人:ユウト 颯真:ソウマ 結翔:ユイト 律:リツ 新:アラタ 大翔:ヒロト 陸:リク "
    "颯:ハヤテ 奏太:カナタ 蒼空:ソラ 翔太:ショウタ 健太:ケンタ 拓海:タクミ 大輝:ダイキ 優斗:ユウト "
    "海斗:カイト 翼:ツバサ 駿:シュン 涼太:リョウタ 航:ワタル 一輝:カズキ 隼人:ハヤト 太一:タイチ "
    "晴:ハル 瑛太:エイタ 春輝:ハルキ 琉生:ルイ 智也:トモヤ 湊斗:ミナト 直人:ナオト 陽向:ヒナタ "
    "蒼真:ソウマ 伊織:イオリ 悠:ユウ 晴人:ハルト 大地:ダイチ 奏:カナデ 一颯:イブキ 歩:アユム"
)

GIRLS_GIVEN_NAMES = _pairs(
    "陽葵:ヒマリ 凛:リン 詩:ウタ 結菜:ユイナ 杏:アン 紬:ツムギ 結愛:ユア 莉子:リコ 芽依:メイ "
    "葵:アオイ 澪:ミオ 結月:ユヅキ さくら:サクラ 咲良:サクラ 美咲:ミサキ 陽菜:ヒナ 花:ハナ "
    "彩花:アヤカ 美優:ミユ 心春:コハル 愛莉:アイリ 七海:ナナミ 真央:マオ 遥:ハルカ 楓:カエデ "
    "千尋:チヒロ 奈々:ナナ 優奈:ユウナ 美月:ミヅキ 彩:アヤ 舞:マイ 琴音:コトネ 心:ココロ "
    "莉央:リオ 結衣:ユイ 日向:ヒナタ 美桜:ミオ 葉月:ハヅキ 柚希:ユズキ 朱里:アカリ 一花:イチカ "
    "菜々子:ナナコ 彩乃:アヤノ 小春:コハル 希:ノゾミ 桃子:モモコ 和奏:ワカナ 千夏:チナツ"
)

ADULT_GIVEN_NAMES = _pairs(
    "浩:ヒロシ 誠:マコト 直樹:ナオキ 恵子:ケイコ 裕子:ユウコ 真由美:マユミ 健一:ケンイチ "
    "和也:カズヤ 明美:アケミ 智子:トモコ 隆:タカシ 美穂:ミホ 聡:サトシ 由美:ユミ 哲也:テツヤ "
    "久美子:クミコ 大介:ダイスケ 香織:カオリ 修:オサム 直子:ナオコ 剛:ツヨシ 陽子:ヨウコ "
    "亮:リョウ 典子:ノリコ 学:マナブ 幸子:サチコ 秀樹:ヒデキ 純子:ジュンコ 洋平:ヨウヘイ "
    "麻衣:マイ 達也:タツヤ 愛:アイ 健太郎:ケンタロウ 由香:ユカ 雅人:マサト 千春:チハル "
    "俊介:シュンスケ 美紀:ミキ 拓也:タクヤ 綾:アヤ"
)

#: A few pupils have foreign names, written in katakana (formal and display name alike).
FOREIGN_FAMILY_NAMES = _pairs(
    "グエン:グエン サントス:サントス シルバ:シルバ キム:キム ワン:ワン ペレイラ:ペレイラ "
    "チャン:チャン ガルシア:ガルシア"
)
FOREIGN_GIVEN_NAMES = _pairs(
    "ミン:ミン ルーカス:ルーカス アナ:アナ ジウ:ジウ ハオ:ハオ マリア:マリア ダニエル:ダニエル "
    "リン:リン"
)

#: Place names for schools: ``表記:romaji`` (the romaji makes the school's mail domain).
SCHOOL_PLACES = _pairs(
    "桜:sakura 若葉:wakaba 緑:midori 青葉:aoba 中央:chuo 本町:honcho 港:minato 山手:yamate "
    "旭:asahi 日向:hinata 清水:shimizu 松原:matsubara 竹園:takezono 梅田:umeda 東山:higashiyama "
    "西山:nishiyama 南台:minamidai 北原:kitahara 泉:izumi 富士見:fujimi 緑ケ丘:midorigaoka "
    "桜台:sakuradai 星川:hoshikawa 月見:tsukimi 花園:hanazono 川辺:kawabe 森下:morishita "
    "宮前:miyamae 大宮:omiya 新町:shinmachi 栄:sakae 平和:heiwa 白山:hakusan 高砂:takasago "
    "住吉:sumiyoshi 光:hikari 駒場:komaba 松風:matsukaze 浜田:hamada 岡本:okamoto 柳町:yanagimachi "
    "千鳥:chidori 菖蒲:shobu 朝霧:asagiri 鶴見:tsurumi 若松:wakamatsu 桂:katsura 藤が丘:fujigaoka "
    "野川:nogawa 矢田:yada"
)

#: Suffixes that tell apart schools sharing a place name: ``表記:romaji``; the first is none.
SCHOOL_SUFFIXES = (
    ("", ""),
    *_pairs("東:higashi 西:nishi 南:minami 北:kita 第二:daini 第三:daisan 第四:daiyon"),
)
