// mall-home v2
function render0(el, data) {
  el.innerHTML = '<div class="item-0">' + data.title + ' ' + data.price.toFixed(2) + '</div>';
  return el;
}
function render1(el, data) {
  el.innerHTML = '<div class="item-1">' + data.title + ' ' + data.price.toFixed(2) + '</div>';
  return el;
}
function render2(el, data) {
  el.innerHTML = '<div class="item-2">' + data.title + ' ' + data.price.toFixed(2) + '</div>';
  return el;
}
function render3(el, data) {
  el.innerHTML = '<div class="item-3">' + data.title + ' ' + data.price.toFixed(2) + '</div>';
  return el;
}
function render4(el, data) {
  el.innerHTML = '<div class="item-4">' + data.title + ' ' + data.price.toFixed(2) + '</div>';
  return el;
}
function render5(el, data) {
  el.innerHTML = '<div class="item-5">' + data.title + ' ' + data.price.toFixed(2) + '</div>';
  return el;
}
function render6(el, data) {
  el.innerHTML = '<div class="item-6">' + data.title + ' ' + data.price.toFixed(2) + '</div>';
  return el;
}
function render7(el, data) {
  el.innerHTML = '<div class="item-7">' + data.title + ' ' + data.price.toFixed(2) + '</div>';
  return el;
}
function render8(el, data) {
  el.innerHTML = '<div class="item-8">' + data.title + ' ' + data.price.toFixed(2) + '</div>';
  return el;
}
function render9(el, data) {
  el.innerHTML = '<div class="item-9">' + data.title + ' ' + data.price.toFixed(2) + '</div>';
  return el;
}
function render10(el, data) {
  el.innerHTML = '<div class="item-10">' + data.title + ' ' + data.price.toFixed(2) + '</div>';
  return el;
}
function render11(el, data) {
  el.innerHTML = '<div class="item-11">' + data.title + ' ' + data.price.toFixed(2) + '</div>';
  return el;
}
function render12(el, data) {
  el.innerHTML = '<div class="item-12">' + data.title + ' ' + data.price.toFixed(2) + '</div>';
  return el;
}
function render13(el, data) {
  el.innerHTML = '<div class="item-13">' + data.title + ' ' + data.price.toFixed(2) + '</div>';
  return el;
}
function render14(el, data) {
  el.innerHTML = '<div class="item-14">' + data.title + ' ' + data.price.toFixed(2) + '</div>';
  return el;
}
function render15(el, data) {
  el.innerHTML = '<div class="item-15">' + data.title + ' ' + data.price.toFixed(2) + '</div>';
  return el;
}
function render16(el, data) {
  el.innerHTML = '<div class="item-16">' + data.title + ' ' + data.price.toFixed(2) + '</div>';
  return el;
}
function render17(el, data) {
  el.innerHTML = '<div class="item-17">' + data.title + ' ' + data.price.toFixed(2) + '</div>';
  return el;
}
function render18(el, data) {
  el.innerHTML = '<div class="item-18">' + data.title + ' ' + data.price.toFixed(2) + '</div>';
  return el;
}
function render19(el, data) {
  el.innerHTML = '<div class="item-19">' + data.title + ' ' + data.price.toFixed(2) + '</div>';
  return el;
}
function render20(el, data) {
  el.innerHTML = '<div class="item-20">' + data.title + ' ' + data.price.toFixed(2) + '</div>';
  return el;
}
function render21(el, data) {
  el.innerHTML = '<div class="item-21">' + data.title + ' ' + data.price.toFixed(2) + '</div>';
  return el;
}
function render22(el, data) {
  el.innerHTML = '<div class="item-22">' + data.title + ' ' + data.price.toFixed(2) + '</div>';
  return el;
}
function render23(el, data) {
  el.innerHTML = '<div class="item-23">' + data.title + ' ' + data.price.toFixed(2) + '</div>';
  return el;
}
function render24(el, data) {
  el.innerHTML = '<div class="item-24">' + data.title + ' ' + data.price.toFixed(2) + '</div>';
  return el;
}
function render25(el, data) {
  el.innerHTML = '<div class="item-25">' + data.title + ' ' + data.price.toFixed(2) + '</div>';
  return el;
}
function render26(el, data) {
  el.innerHTML = '<div class="item-26">' + data.title + ' ' + data.price.toFixed(2) + '</div>';
  return el;
}
function render27(el, data) {
  el.innerHTML = '<div class="item-27">' + data.title + ' ' + data.price.toFixed(2) + '</div>';
  return el;
}
function render28(el, data) {
  el.innerHTML = '<div class="item-28">' + data.title + ' ' + data.price.toFixed(2) + '</div>';
  return el;
}
function render29(el, data) {
  el.innerHTML = '<div class="item-29">' + data.title + ' ' + data.price.toFixed(2) + '</div>';
  return el;
}
function render30(el, data) {
  el.innerHTML = '<div class="item-30">' + data.title + ' ' + data.price.toFixed(2) + '</div>';
  return el;
}
function render31(el, data) {
  el.innerHTML = '<div class="item-31">' + data.title + ' ' + data.price.toFixed(2) + '</div>';
  return el;
}
function render32(el, data) {
  el.innerHTML = '<div class="item-32">' + data.title + ' ' + data.price.toFixed(2) + '</div>';
  return el;
}
function render33(el, data) {
  el.innerHTML = '<div class="item-33">' + data.title + ' ' + data.price.toFixed(2) + '</div>';
  return el;
}
function render34(el, data) {
  el.innerHTML = '<div class="item-34">' + data.title + ' ' + data.price.toFixed(2) + '</div>';
  return el;
}
function render35(el, data) {
  el.innerHTML = '<div class="item-35">' + data.title + ' ' + data.price.toFixed(2) + '</div>';
  return el;
}
function render36(el, data) {
  el.innerHTML = '<div class="item-36">' + data.title + ' ' + data.price.toFixed(2) + '</div>';
  return el;
}
function render37(el, data) {
  el.innerHTML = '<div class="item-37">' + data.title + ' ' + data.price.toFixed(2) + '</div>';
  return el;
}
function render38(el, data) {
  el.innerHTML = '<div class="item-38">' + data.title + ' ' + data.price.toFixed(2) + '</div>';
  return el;
}
function render39(el, data) {
  el.innerHTML = '<div class="item-39">' + data.title + ' ' + data.price.toFixed(2) + '</div>';
  return el;
}
function render40(el, data) {
  el.innerHTML = '<div class="item-40">' + data.title + ' ' + data.price.toFixed(2) + '</div>';
  return el;
}
function render41(el, data) {
  el.innerHTML = '<div class="item-41">' + data.title + ' ' + data.price.toFixed(2) + '</div>';
  return el;
}
function render42(el, data) {
  el.innerHTML = '<div class="item-42">' + data.title + ' ' + data.price.toFixed(2) + '</div>';
  return el;
}
function render43(el, data) {
  el.innerHTML = '<div class="item-43">' + data.title + ' ' + data.price.toFixed(2) + '</div>';
  return el;
}
function render44(el, data) {
  el.innerHTML = '<div class="item-44">' + data.title + ' ' + data.price.toFixed(2) + '</div>';
  return el;
}
function render45(el, data) {
  el.innerHTML = '<div class="item-45">' + data.title + ' ' + data.price.toFixed(2) + '</div>';
  return el;
}
function render46(el, data) {
  el.innerHTML = '<div class="item-46">' + data.title + ' ' + data.price.toFixed(2) + '</div>';
  return el;
}
function render47(el, data) {
  el.innerHTML = '<div class="item-47">' + data.title + ' ' + data.price.toFixed(2) + '</div>';
  return el;
}
function render48(el, data) {
  el.innerHTML = '<div class="item-48">' + data.title + ' ' + data.price.toFixed(2) + '</div>';
  return el;
}
function render49(el, data) {
  el.innerHTML = '<div class="item-49">' + data.title + ' ' + data.price.toFixed(2) + '</div>';
  return el;
}
function render50(el, data) {
  el.innerHTML = '<div class="item-50">' + data.title + ' ' + data.price.toFixed(2) + '</div>';
  return el;
}
function render51(el, data) {
  el.innerHTML = '<div class="item-51">' + data.title + ' ' + data.price.toFixed(2) + '</div>';
  return el;
}
function render52(el, data) {
  el.innerHTML = '<div class="item-52">' + data.title + ' ' + data.price.toFixed(2) + '</div>';
  return el;
}
function render53(el, data) {
  el.innerHTML = '<div class="item-53">' + data.title + ' ' + data.price.toFixed(2) + '</div>';
  return el;
}
function render54(el, data) {
  el.innerHTML = '<div class="item-54">' + data.title + ' ' + data.price.toFixed(2) + '</div>';
  return el;
}
function render55(el, data) {
  el.innerHTML = '<div class="item-55">' + data.title + ' ' + data.price.toFixed(2) + '</div>';
  return el;
}
function render56(el, data) {
  el.innerHTML = '<div class="item-56">' + data.title + ' ' + data.price.toFixed(2) + '</div>';
  return el;
}
function render57(el, data) {
  el.innerHTML = '<div class="item-57">' + data.title + ' ' + data.price.toFixed(2) + '</div>';
  return el;
}
function render58(el, data) {
  el.innerHTML = '<div class="item-58">' + data.title + ' ' + data.price.toFixed(2) + '</div>';
  return el;
}
function render59(el, data) {
  el.innerHTML = '<div class="item-59">' + data.title + ' ' + data.price.toFixed(2) + '</div>';
  return el;
}
function render60(el, data) {
  el.innerHTML = '<div class="item-60">' + data.title + ' ' + data.price.toFixed(2) + '</div>';
  return el;
}
function render61(el, data) {
  el.innerHTML = '<div class="item-61">' + data.title + ' ' + data.price.toFixed(2) + '</div>';
  return el;
}
function render62(el, data) {
  el.innerHTML = '<div class="item-62">' + data.title + ' ' + data.price.toFixed(2) + '</div>';
  return el;
}
function render63(el, data) {
  el.innerHTML = '<div class="item-63">' + data.title + ' ' + data.price.toFixed(2) + '</div>';
  return el;
}
function render64(el, data) {
  el.innerHTML = '<div class="item-64">' + data.title + ' ' + data.price.toFixed(2) + '</div>';
  return el;
}
function render65(el, data) {
  el.innerHTML = '<div class="item-65">' + data.title + ' ' + data.price.toFixed(2) + '</div>';
  return el;
}
function render66(el, data) {
  el.innerHTML = '<div class="item-66">' + data.title + ' ' + data.price.toFixed(2) + '</div>';
  return el;
}
function render67(el, data) {
  el.innerHTML = '<div class="item-67">' + data.title + ' ' + data.price.toFixed(2) + '</div>';
  return el;
}
function render68(el, data) {
  el.innerHTML = '<div class="item-68">' + data.title + ' ' + data.price.toFixed(2) + '</div>';
  return el;
}
function render69(el, data) {
  el.innerHTML = '<div class="item-69">' + data.title + ' ' + data.price.toFixed(2) + '</div>';
  return el;
}
function render70(el, data) {
  el.innerHTML = '<div class="item-70">' + data.title + ' ' + data.price.toFixed(2) + '</div>';
  return el;
}
function render71(el, data) {
  el.innerHTML = '<div class="item-71">' + data.title + ' ' + data.price.toFixed(2) + '</div>';
  return el;
}
function render72(el, data) {
  el.innerHTML = '<div class="item-72">' + data.title + ' ' + data.price.toFixed(2) + '</div>';
  return el;
}
function render73(el, data) {
  el.innerHTML = '<div class="item-73">' + data.title + ' ' + data.price.toFixed(2) + '</div>';
  return el;
}
function render74(el, data) {
  el.innerHTML = '<div class="item-74">' + data.title + ' ' + data.price.toFixed(2) + '</div>';
  return el;
}
function render75(el, data) {
  el.innerHTML = '<div class="item-75">' + data.title + ' ' + data.price.toFixed(2) + '</div>';
  return el;
}
function render76(el, data) {
  el.innerHTML = '<div class="item-76">' + data.title + ' ' + data.price.toFixed(2) + '</div>';
  return el;
}
function render77(el, data) {
  el.innerHTML = '<div class="item-77">' + data.title + ' ' + data.price.toFixed(2) + '</div>';
  return el;
}
function render78(el, data) {
  el.innerHTML = '<div class="item-78">' + data.title + ' ' + data.price.toFixed(2) + '</div>';
  return el;
}
function render79(el, data) {
  el.innerHTML = '<div class="item-79">' + data.title + ' ' + data.price.toFixed(2) + '</div>';
  return el;
}
function render80(el, data) {
  el.innerHTML = '<div class="item-80">' + data.title + ' ' + data.price.toFixed(2) + '</div>';
  return el;
}
function render81(el, data) {
  el.innerHTML = '<div class="item-81">' + data.title + ' ' + data.price.toFixed(2) + '</div>';
  return el;
}
function render82(el, data) {
  el.innerHTML = '<div class="item-82">' + data.title + ' ' + data.price.toFixed(2) + '</div>';
  return el;
}
function render83(el, data) {
  el.innerHTML = '<div class="item-83">' + data.title + ' ' + data.price.toFixed(2) + '</div>';
  return el;
}
function render84(el, data) {
  el.innerHTML = '<div class="item-84">' + data.title + ' ' + data.price.toFixed(2) + '</div>';
  return el;
}
function render85(el, data) {
  el.innerHTML = '<div class="item-85">' + data.title + ' ' + data.price.toFixed(2) + '</div>';
  return el;
}
function render86(el, data) {
  el.innerHTML = '<div class="item-86">' + data.title + ' ' + data.price.toFixed(2) + '</div>';
  return el;
}
function render87(el, data) {
  el.innerHTML = '<div class="item-87">' + data.title + ' ' + data.price.toFixed(2) + '</div>';
  return el;
}
function render88(el, data) {
  el.innerHTML = '<div class="item-88">' + data.title + ' ' + data.price.toFixed(2) + '</div>';
  return el;
}
function render89(el, data) {
  el.innerHTML = '<div class="item-89">' + data.title + ' ' + data.price.toFixed(2) + '</div>';
  return el;
}
function render90(el, data) {
  el.innerHTML = '<div class="item-90">' + data.title + ' ' + data.price.toFixed(2) + '</div>';
  return el;
}
function render91(el, data) {
  el.innerHTML = '<div class="item-91">' + data.title + ' ' + data.price.toFixed(2) + '</div>';
  return el;
}
function render92(el, data) {
  el.innerHTML = '<div class="item-92">' + data.title + ' ' + data.price.toFixed(2) + '</div>';
  return el;
}
function render93(el, data) {
  el.innerHTML = '<div class="item-93">' + data.title + ' ' + data.price.toFixed(2) + '</div>';
  return el;
}
function render94(el, data) {
  el.innerHTML = '<div class="item-94">' + data.title + ' ' + data.price.toFixed(2) + '</div>';
  return el;
}
function render95(el, data) {
  el.innerHTML = '<div class="item-95">' + data.title + ' ' + data.price.toFixed(2) + '</div>';
  return el;
}
function render96(el, data) {
  el.innerHTML = '<div class="item-96">' + data.title + ' ' + data.price.toFixed(2) + '</div>';
  return el;
}
function render97(el, data) {
  el.innerHTML = '<div class="item-97">' + data.title + ' ' + data.price.toFixed(2) + '</div>';
  return el;
}
function render98(el, data) {
  el.innerHTML = '<div class="item-98">' + data.title + ' ' + data.price.toFixed(2) + '</div>';
  return el;
}
function render99(el, data) {
  el.innerHTML = '<div class="item-99">' + data.title + ' ' + data.price.toFixed(2) + '</div>';
  return el;
}
function render100(el, data) {
  el.innerHTML = '<div class="item-100">' + data.title + ' ' + data.price.toFixed(2) + '</div>';
  return el;
}
function render101(el, data) {
  el.innerHTML = '<div class="item-101">' + data.title + ' ' + data.price.toFixed(2) + '</div>';
  return el;
}
function render102(el, data) {
  el.innerHTML = '<div class="item-102">' + data.title + ' ' + data.price.toFixed(2) + '</div>';
  return el;
}
function render103(el, data) {
  el.innerHTML = '<div class="item-103">' + data.title + ' ' + data.price.toFixed(2) + '</div>';
  return el;
}
function render104(el, data) {
  el.innerHTML = '<div class="item-104">' + data.title + ' ' + data.price.toFixed(2) + '</div>';
  return el;
}
function render105(el, data) {
  el.innerHTML = '<div class="item-105">' + data.title + ' ' + data.price.toFixed(2) + '</div>';
  return el;
}
function render106(el, data) {
  el.innerHTML = '<div class="item-106">' + data.title + ' ' + data.price.toFixed(2) + '</div>';
  return el;
}
function render107(el, data) {
  el.innerHTML = '<div class="item-107">' + data.title + ' ' + data.price.toFixed(2) + '</div>';
  return el;
}
function render108(el, data) {
  el.innerHTML = '<div class="item-108">' + data.title + ' ' + data.price.toFixed(2) + '</div>';
  return el;
}
function render109(el, data) {
  el.innerHTML = '<div class="item-109">' + data.title + ' ' + data.price.toFixed(2) + '</div>';
  return el;
}
function render110(el, data) {
  el.innerHTML = '<div class="item-110">' + data.title + ' ' + data.price.toFixed(2) + '</div>';
  return el;
}
function render111(el, data) {
  el.innerHTML = '<div class="item-111">' + data.title + ' ' + data.price.toFixed(2) + '</div>';
  return el;
}
function render112(el, data) {
  el.innerHTML = '<div class="item-112">' + data.title + ' ' + data.price.toFixed(2) + '</div>';
  return el;
}
function render113(el, data) {
  el.innerHTML = '<div class="item-113">' + data.title + ' ' + data.price.toFixed(2) + '</div>';
  return el;
}
function render114(el, data) {
  el.innerHTML = '<div class="item-114">' + data.title + ' ' + data.price.toFixed(2) + '</div>';
  return el;
}
function render115(el, data) {
  el.innerHTML = '<div class="item-115">' + data.title + ' ' + data.price.toFixed(2) + '</div>';
  return el;
}
function render116(el, data) {
  el.innerHTML = '<div class="item-116">' + data.title + ' ' + data.price.toFixed(2) + '</div>';
  return el;
}
function render117(el, data) {
  el.innerHTML = '<div class="item-117">' + data.title + ' ' + data.price.toFixed(2) + '</div>';
  return el;
}
function render118(el, data) {
  el.innerHTML = '<div class="item-118">' + data.title + ' ' + data.price.toFixed(2) + '</div>';
  return el;
}
function render119(el, data) {
  el.innerHTML = '<div class="item-119">' + data.title + ' ' + data.price.toFixed(2) + '</div>';
  return el;
}
function render120(el, data) {
  el.innerHTML = '<div class="item-120">' + data.title + ' ' + data.price.toFixed(2) + '</div>';
  return el;
}
function render121(el, data) {
  el.innerHTML = '<div class="item-121">' + data.title + ' ' + data.price.toFixed(2) + '</div>';
  return el;
}
function render122(el, data) {
  el.innerHTML = '<div class="item-122">' + data.title + ' ' + data.price.toFixed(2) + '</div>';
  return el;
}
function render123(el, data) {
  el.innerHTML = '<div class="item-123">' + data.title + ' ' + data.price.toFixed(2) + '</div>';
  return el;
}
function render124(el, data) {
  el.innerHTML = '<div class="item-124">' + data.title + ' ' + data.price.toFixed(2) + '</div>';
  return el;
}
function render125(el, data) {
  el.innerHTML = '<div class="item-125">' + data.title + ' ' + data.price.toFixed(2) + '</div>';
  return el;
}
function render126(el, data) {
  el.innerHTML = '<div class="item-126">' + data.title + ' ' + data.price.toFixed(2) + '</div>';
  return el;
}
function render127(el, data) {
  el.innerHTML = '<div class="item-127">' + data.title + ' ' + data.price.toFixed(2) + '</div>';
  return el;
}
function render128(el, data) {
  el.innerHTML = '<div class="item-128">' + data.title + ' ' + data.price.toFixed(2) + '</div>';
  return el;
}
function render129(el, data) {
  el.innerHTML = '<div class="item-129">' + data.title + ' ' + data.price.toFixed(2) + '</div>';
  return el;
}
function render130(el, data) {
  el.innerHTML = '<div class="item-130">' + data.title + ' ' + data.price.toFixed(2) + '</div>';
  return el;
}
function render131(el, data) {
  el.innerHTML = '<div class="item-131">' + data.title + ' ' + data.price.toFixed(2) + '</div>';
  return el;
}
function render132(el, data) {
  el.innerHTML = '<div class="item-132">' + data.title + ' ' + data.price.toFixed(2) + '</div>';
  return el;
}
function render133(el, data) {
  el.innerHTML = '<div class="item-133">' + data.title + ' ' + data.price.toFixed(2) + '</div>';
  return el;
}
function render134(el, data) {
  el.innerHTML = '<div class="item-134">' + data.title + ' ' + data.price.toFixed(2) + '</div>';
  return el;
}
function render135(el, data) {
  el.innerHTML = '<div class="item-135">' + data.title + ' ' + data.price.toFixed(2) + '</div>';
  return el;
}
function render136(el, data) {
  el.innerHTML = '<div class="item-136">' + data.title + ' ' + data.price.toFixed(2) + '</div>';
  return el;
}
function render137(el, data) {
  el.innerHTML = '<div class="item-137">' + data.title + ' ' + data.price.toFixed(2) + '</div>';
  return el;
}
function render138(el, data) {
  el.innerHTML = '<div class="item-138">' + data.title + ' ' + data.price.toFixed(2) + '</div>';
  return el;
}
function render139(el, data) {
  el.innerHTML = '<div class="item-139">' + data.title + ' ' + data.price.toFixed(2) + '</div>';
  return el;
}
function render140(el, data) {
  el.innerHTML = '<div class="item-140">' + data.title + ' ' + data.price.toFixed(2) + '</div>';
  return el;
}
function render141(el, data) {
  el.innerHTML = '<div class="item-141">' + data.title + ' ' + data.price.toFixed(2) + '</div>';
  return el;
}
function render142(el, data) {
  el.innerHTML = '<div class="item-142">' + data.title + ' ' + data.price.toFixed(2) + '</div>';
  return el;
}
function render143(el, data) {
  el.innerHTML = '<div class="item-143">' + data.title + ' ' + data.price.toFixed(2) + '</div>';
  return el;
}
function render144(el, data) {
  el.innerHTML = '<div class="item-144">' + data.title + ' ' + data.price.toFixed(2) + '</div>';
  return el;
}
function render145(el, data) {
  el.innerHTML = '<div class="item-145">' + data.title + ' ' + data.price.toFixed(2) + '</div>';
  return el;
}
function render146(el, data) {
  el.innerHTML = '<div class="item-146">' + data.title + ' ' + data.price.toFixed(2) + '</div>';
  return el;
}
function render147(el, data) {
  el.innerHTML = '<div class="item-147">' + data.title + ' ' + data.price.toFixed(2) + '</div>';
  return el;
}
function render148(el, data) {
  el.innerHTML = '<div class="item-148">' + data.title + ' ' + data.price.toFixed(2) + '</div>';
  return el;
}
function render149(el, data) {
  el.innerHTML = '<div class="item-149">' + data.title + ' ' + data.price.toFixed(2) + '</div>';
  return el;
}
function render150(el, data) {
  el.innerHTML = '<div class="item-150">' + data.title + ' ' + data.price.toFixed(2) + '</div>';
  return el;
}
function render151(el, data) {
  el.innerHTML = '<div class="item-151">' + data.title + ' ' + data.price.toFixed(2) + '</div>';
  return el;
}
function render152(el, data) {
  el.innerHTML = '<div class="item-152">' + data.title + ' ' + data.price.toFixed(2) + '</div>';
  return el;
}
function render153(el, data) {
  el.innerHTML = '<div class="item-153">' + data.title + ' ' + data.price.toFixed(2) + '</div>';
  return el;
}
function render154(el, data) {
  el.innerHTML = '<div class="item-154">' + data.title + ' ' + data.price.toFixed(2) + '</div>';
  return el;
}
function render155(el, data) {
  el.innerHTML = '<div class="item-155">' + data.title + ' ' + data.price.toFixed(2) + '</div>';
  return el;
}
function render156(el, data) {
  el.innerHTML = '<div class="item-156">' + data.title + ' ' + data.price.toFixed(2) + '</div>';
  return el;
}
function render157(el, data) {
  el.innerHTML = '<div class="item-157">' + data.title + ' ' + data.price.toFixed(2) + '</div>';
  return el;
}
function render158(el, data) {
  el.innerHTML = '<div class="item-158">' + data.title + ' ' + data.price.toFixed(2) + '</div>';
  return el;
}
function render159(el, data) {
  el.innerHTML = '<div class="item-159">' + data.title + ' ' + data.price.toFixed(2) + '</div>';
  return el;
}
function render160(el, data) {
  el.innerHTML = '<div class="item-160">' + data.title + ' ' + data.price.toFixed(2) + '</div>';
  return el;
}
function render161(el, data) {
  el.innerHTML = '<div class="item-161">' + data.title + ' ' + data.price.toFixed(2) + '</div>';
  return el;
}
function render162(el, data) {
  el.innerHTML = '<div class="item-162">' + data.title + ' ' + data.price.toFixed(2) + '</div>';
  return el;
}
function render163(el, data) {
  el.innerHTML = '<div class="item-163">' + data.title + ' ' + data.price.toFixed(2) + '</div>';
  return el;
}
function render164(el, data) {
  el.innerHTML = '<div class="item-164">' + data.title + ' ' + data.price.toFixed(2) + '</div>';
  return el;
}
function render165(el, data) {
  el.innerHTML = '<div class="item-165">' + data.title + ' ' + data.price.toFixed(2) + '</div>';
  return el;
}
function render166(el, data) {
  el.innerHTML = '<div class="item-166">' + data.title + ' ' + data.price.toFixed(2) + '</div>';
  return el;
}
function render167(el, data) {
  el.innerHTML = '<div class="item-167">' + data.title + ' ' + data.price.toFixed(2) + '</div>';
  return el;
}
function render168(el, data) {
  el.innerHTML = '<div class="item-168">' + data.title + ' ' + data.price.toFixed(2) + '</div>';
  return el;
}
function render169(el, data) {
  el.innerHTML = '<div class="item-169">' + data.title + ' ' + data.price.toFixed(2) + '</div>';
  return el;
}
function render170(el, data) {
  el.innerHTML = '<div class="item-170">' + data.title + ' ' + data.price.toFixed(2) + '</div>';
  return el;
}
function render171(el, data) {
  el.innerHTML = '<div class="item-171">' + data.title + ' ' + data.price.toFixed(2) + '</div>';
  return el;
}
function render172(el, data) {
  el.innerHTML = '<div class="item-172">' + data.title + ' ' + data.price.toFixed(2) + '</div>';
  return el;
}
function render173(el, data) {
  el.innerHTML = '<div class="item-173">' + data.title + ' ' + data.price.toFixed(2) + '</div>';
  return el;
}
function render174(el, data) {
  el.innerHTML = '<div class="item-174">' + data.title + ' ' + data.price.toFixed(2) + '</div>';
  return el;
}
function render175(el, data) {
  el.innerHTML = '<div class="item-175">' + data.title + ' ' + data.price.toFixed(2) + '</div>';
  return el;
}
function render176(el, data) {
  el.innerHTML = '<div class="item-176">' + data.title + ' ' + data.price.toFixed(2) + '</div>';
  return el;
}
function render177(el, data) {
  el.innerHTML = '<div class="item-177">' + data.title + ' ' + data.price.toFixed(2) + '</div>';
  return el;
}
function render178(el, data) {
  el.innerHTML = '<div class="item-178">' + data.title + ' ' + data.price.toFixed(2) + '</div>';
  return el;
}
function render179(el, data) {
  el.innerHTML = '<div class="item-179">' + data.title + ' ' + data.price.toFixed(2) + '</div>';
  return el;
}
function render180(el, data) {
  el.innerHTML = '<div class="item-180">' + data.title + ' ' + data.price.toFixed(2) + '</div>';
  return el;
}
function render181(el, data) {
  el.innerHTML = '<div class="item-181">' + data.title + ' ' + data.price.toFixed(2) + '</div>';
  return el;
}
function render182(el, data) {
  el.innerHTML = '<div class="item-182">' + data.title + ' ' + data.price.toFixed(2) + '</div>';
  return el;
}
function render183(el, data) {
  el.innerHTML = '<div class="item-183">' + data.title + ' ' + data.price.toFixed(2) + '</div>';
  return el;
}
function render184(el, data) {
  el.innerHTML = '<div class="item-184">' + data.title + ' ' + data.price.toFixed(2) + '</div>';
  return el;
}
function render185(el, data) {
  el.innerHTML = '<div class="item-185">' + data.title + ' ' + data.price.toFixed(2) + '</div>';
  return el;
}
function render186(el, data) {
  el.innerHTML = '<div class="item-186">' + data.title + ' ' + data.price.toFixed(2) + '</div>';
  return el;
}
function render187(el, data) {
  el.innerHTML = '<div class="item-187">' + data.title + ' ' + data.price.toFixed(2) + '</div>';
  return el;
}
function render188(el, data) {
  el.innerHTML = '<div class="item-188">' + data.title + ' ' + data.price.toFixed(2) + '</div>';
  return el;
}
function render189(el, data) {
  el.innerHTML = '<div class="item-189">' + data.title + ' ' + data.price.toFixed(2) + '</div>';
  return el;
}
function render190(el, data) {
  el.innerHTML = '<div class="item-190">' + data.title + ' ' + data.price.toFixed(2) + '</div>';
  return el;
}
function render191(el, data) {
  el.innerHTML = '<div class="item-191">' + data.title + ' ' + data.price.toFixed(2) + '</div>';
  return el;
}
function render192(el, data) {
  el.innerHTML = '<div class="item-192">' + data.title + ' ' + data.price.toFixed(2) + '</div>';
  return el;
}
function render193(el, data) {
  el.innerHTML = '<div class="item-193">' + data.title + ' ' + data.price.toFixed(2) + '</div>';
  return el;
}
function render194(el, data) {
  el.innerHTML = '<div class="item-194">' + data.title + ' ' + data.price.toFixed(2) + '</div>';
  return el;
}
function render195(el, data) {
  el.innerHTML = '<div class="item-195">' + data.title + ' ' + data.price.toFixed(2) + '</div>';
  return el;
}
function render196(el, data) {
  el.innerHTML = '<div class="item-196">' + data.title + ' ' + data.price.toFixed(2) + '</div>';
  return el;
}
function render197(el, data) {
  el.innerHTML = '<div class="item-197">' + data.title + ' ' + data.price.toFixed(2) + '</div>';
  return el;
}
function render198(el, data) {
  el.innerHTML = '<div class="item-198">' + data.title + ' ' + data.price.toFixed(2) + '</div>';
  return el;
}
function render199(el, data) {
  el.innerHTML = '<div class="item-199">' + data.title + ' ' + data.price.toFixed(2) + '</div>';
  return el;
}
function render200(el, data) {
  el.innerHTML = '<div class="item-200">' + data.title + ' ' + data.price.toFixed(2) + '</div>';
  return el;
}
function render201(el, data) {
  el.innerHTML = '<div class="item-201">' + data.title + ' ' + data.price.toFixed(2) + '</div>';
  return el;
}
function render202(el, data) {
  el.innerHTML = '<div class="item-202">' + data.title + ' ' + data.price.toFixed(2) + '</div>';
  return el;
}
function render203(el, data) {
  el.innerHTML = '<div class="item-203">' + data.title + ' ' + data.price.toFixed(2) + '</div>';
  return el;
}
function render204(el, data) {
  el.innerHTML = '<div class="item-204">' + data.title + ' ' + data.price.toFixed(2) + '</div>';
  return el;
}
function render205(el, data) {
  el.innerHTML = '<div class="item-205">' + data.title + ' ' + data.price.toFixed(2) + '</div>';
  return el;
}
function render206(el, data) {
  el.innerHTML = '<div class="item-206">' + data.title + ' ' + data.price.toFixed(2) + '</div>';
  return el;
}
function render207(el, data) {
  el.innerHTML = '<div class="item-207">' + data.title + ' ' + data.price.toFixed(2) + '</div>';
  return el;
}
function render208(el, data) {
  el.innerHTML = '<div class="item-208">' + data.title + ' ' + data.price.toFixed(2) + '</div>';
  return el;
}
function render209(el, data) {
  el.innerHTML = '<div class="item-209">' + data.title + ' ' + data.price.toFixed(2) + '</div>';
  return el;
}
function render210(el, data) {
  el.innerHTML = '<div class="item-210">' + data.title + ' ' + data.price.toFixed(2) + '</div>';
  return el;
}
function render211(el, data) {
  el.innerHTML = '<div class="item-211">' + data.title + ' ' + data.price.toFixed(2) + '</div>';
  return el;
}
function render212(el, data) {
  el.innerHTML = '<div class="item-212">' + data.title + ' ' + data.price.toFixed(2) + '</div>';
  return el;
}
function render213(el, data) {
  el.innerHTML = '<div class="item-213">' + data.title + ' ' + data.price.toFixed(2) + '</div>';
  return el;
}
function render214(el, data) {
  el.innerHTML = '<div class="item-214">' + data.title + ' ' + data.price.toFixed(2) + '</div>';
  return el;
}
function render215(el, data) {
  el.innerHTML = '<div class="item-215">' + data.title + ' ' + data.price.toFixed(2) + '</div>';
  return el;
}
function render216(el, data) {
  el.innerHTML = '<div class="item-216">' + data.title + ' ' + data.price.toFixed(2) + '</div>';
  return el;
}
function render217(el, data) {
  el.innerHTML = '<div class="item-217">' + data.title + ' ' + data.price.toFixed(2) + '</div>';
  return el;
}
function render218(el, data) {
  el.innerHTML = '<div class="item-218">' + data.title + ' ' + data.price.toFixed(2) + '</div>';
  return el;
}
function render219(el, data) {
  el.innerHTML = '<div class="item-219">' + data.title + ' ' + data.price.toFixed(2) + '</div>';
  return el;
}
function render220(el, data) {
  el.innerHTML = '<div class="item-220">' + data.title + ' ' + data.price.toFixed(2) + '</div>';
  return el;
}
function render221(el, data) {
  el.innerHTML = '<div class="item-221">' + data.title + ' ' + data.price.toFixed(2) + '</div>';
  return el;
}
function render222(el, data) {
  el.innerHTML = '<div class="item-222">' + data.title + ' ' + data.price.toFixed(2) + '</div>';
  return el;
}
function render223(el, data) {
  el.innerHTML = '<div class="item-223">' + data.title + ' ' + data.price.toFixed(2) + '</div>';
  return el;
}
function render224(el, data) {
  el.innerHTML = '<div class="item-224">' + data.title + ' ' + data.price.toFixed(2) + '</div>';
  return el;
}
function render225(el, data) {
  el.innerHTML = '<div class="item-225">' + data.title + ' ' + data.price.toFixed(2) + '</div>';
  return el;
}
function render226(el, data) {
  el.innerHTML = '<div class="item-226">' + data.title + ' ' + data.price.toFixed(2) + '</div>';
  return el;
}
function render227(el, data) {
  el.innerHTML = '<div class="item-227">' + data.title + ' ' + data.price.toFixed(2) + '</div>';
  return el;
}
function render228(el, data) {
  el.innerHTML = '<div class="item-228">' + data.title + ' ' + data.price.toFixed(2) + '</div>';
  return el;
}
function render229(el, data) {
  el.innerHTML = '<div class="item-229">' + data.title + ' ' + data.price.toFixed(2) + '</div>';
  return el;
}
function render230(el, data) {
  el.innerHTML = '<div class="item-230">' + data.title + ' ' + data.price.toFixed(2) + '</div>';
  return el;
}
function render231(el, data) {
  el.innerHTML = '<div class="item-231">' + data.title + ' ' + data.price.toFixed(2) + '</div>';
  return el;
}
function render232(el, data) {
  el.innerHTML = '<div class="item-232">' + data.title + ' ' + data.price.toFixed(2) + '</div>';
  return el;
}
function render233(el, data) {
  el.innerHTML = '<div class="item-233">' + data.title + ' ' + data.price.toFixed(2) + '</div>';
  return el;
}
function render234(el, data) {
  el.innerHTML = '<div class="item-234">' + data.title + ' ' + data.price.toFixed(2) + '</div>';
  return el;
}
function render235(el, data) {
  el.innerHTML = '<div class="item-235">' + data.title + ' ' + data.price.toFixed(2) + '</div>';
  return el;
}
function render236(el, data) {
  el.innerHTML = '<div class="item-236">' + data.title + ' ' + data.price.toFixed(2) + '</div>';
  return el;
}
function render237(el, data) {
  el.innerHTML = '<div class="item-237">' + data.title + ' ' + data.price.toFixed(2) + '</div>';
  return el;
}
function render238(el, data) {
  el.innerHTML = '<div class="item-238">' + data.title + ' ' + data.price.toFixed(2) + '</div>';
  return el;
}
function render239(el, data) {
  el.innerHTML = '<div class="item-239">' + data.title + ' ' + data.price.toFixed(2) + '</div>';
  return el;
}
function render240(el, data) {
  el.innerHTML = '<div class="item-240">' + data.title + ' ' + data.price.toFixed(2) + '</div>';
  return el;
}
function render241(el, data) {
  el.innerHTML = '<div class="item-241">' + data.title + ' ' + data.price.toFixed(2) + '</div>';
  return el;
}
function render242(el, data) {
  el.innerHTML = '<div class="item-242">' + data.title + ' ' + data.price.toFixed(2) + '</div>';
  return el;
}
function render243(el, data) {
  el.innerHTML = '<div class="item-243">' + data.title + ' ' + data.price.toFixed(2) + '</div>';
  return el;
}
function render244(el, data) {
  el.innerHTML = '<div class="item-244">' + data.title + ' ' + data.price.toFixed(2) + '</div>';
  return el;
}
function render245(el, data) {
  el.innerHTML = '<div class="item-245">' + data.title + ' ' + data.price.toFixed(2) + '</div>';
  return el;
}
function render246(el, data) {
  el.innerHTML = '<div class="item-246">' + data.title + ' ' + data.price.toFixed(2) + '</div>';
  return el;
}
function render247(el, data) {
  el.innerHTML = '<div class="item-247">' + data.title + ' ' + data.price.toFixed(2) + '</div>';
  return el;
}
function render248(el, data) {
  el.innerHTML = '<div class="item-248">' + data.title + ' ' + data.price.toFixed(2) + '</div>';
  return el;
}
function render249(el, data) {
  el.innerHTML = '<div class="item-249">' + data.title + ' ' + data.price.toFixed(2) + '</div>';
  return el;
}
function render250(el, data) {
  el.innerHTML = '<div class="item-250">' + data.title + ' ' + data.price.toFixed(2) + '</div>';
  return el;
}
function render251(el, data) {
  el.innerHTML = '<div class="item-251">' + data.title + ' ' + data.price.toFixed(2) + '</div>';
  return el;
}
function render252(el, data) {
  el.innerHTML = '<div class="item-252">' + data.title + ' ' + data.price.toFixed(2) + '</div>';
  return el;
}
function render253(el, data) {
  el.innerHTML = '<div class="item-253">' + data.title + ' ' + data.price.toFixed(2) + '</div>';
  return el;
}
function render254(el, data) {
  el.innerHTML = '<div class="item-254">' + data.title + ' ' + data.price.toFixed(2) + '</div>';
  return el;
}
function render255(el, data) {
  el.innerHTML = '<div class="item-255">' + data.title + ' ' + data.price.toFixed(2) + '</div>';
  return el;
}
function render256(el, data) {
  el.innerHTML = '<div class="item-256">' + data.title + ' ' + data.price.toFixed(2) + '</div>';
  return el;
}
function render257(el, data) {
  el.innerHTML = '<div class="item-257">' + data.title + ' ' + data.price.toFixed(2) + '</div>';
  return el;
}
function render258(el, data) {
  el.innerHTML = '<div class="item-258">' + data.title + ' ' + data.price.toFixed(2) + '</div>';
  return el;
}
function render259(el, data) {
  el.innerHTML = '<div class="item-259">' + data.title + ' ' + data.price.toFixed(2) + '</div>';
  return el;
}
function render260(el, data) {
  el.innerHTML = '<div class="item-260">' + data.title + ' ' + data.price.toFixed(2) + '</div>';
  return el;
}
function render261(el, data) {
  el.innerHTML = '<div class="item-261">' + data.title + ' ' + data.price.toFixed(2) + '</div>';
  return el;
}
function render262(el, data) {
  el.innerHTML = '<div class="item-262">' + data.title + ' ' + data.price.toFixed(2) + '</div>';
  return el;
}
function render263(el, data) {
  el.innerHTML = '<div class="item-263">' + data.title + ' ' + data.price.toFixed(2) + '</div>';
  return el;
}
function render264(el, data) {
  el.innerHTML = '<div class="item-264">' + data.title + ' ' + data.price.toFixed(2) + '</div>';
  return el;
}
function render265(el, data) {
  el.innerHTML = '<div class="item-265">' + data.title + ' ' + data.price.toFixed(2) + '</div>';
  return el;
}
function render266(el, data) {
  el.innerHTML = '<div class="item-266">' + data.title + ' ' + data.price.toFixed(2) + '</div>';
  return el;
}
function render267(el, data) {
  el.innerHTML = '<div class="item-267">' + data.title + ' ' + data.price.toFixed(2) + '</div>';
  return el;
}
function render268(el, data) {
  el.innerHTML = '<div class="item-268">' + data.title + ' ' + data.price.toFixed(2) + '</div>';
  return el;
}
function render269(el, data) {
  el.innerHTML = '<div class="item-269">' + data.title + ' ' + data.price.toFixed(2) + '</div>';
  return el;
}
function render270(el, data) {
  el.innerHTML = '<div class="item-270">' + data.title + ' ' + data.price.toFixed(2) + '</div>';
  return el;
}
function render271(el, data) {
  el.innerHTML = '<div class="item-271">' + data.title + ' ' + data.price.toFixed(2) + '</div>';
  return el;
}
function render272(el, data) {
  el.innerHTML = '<div class="item-272">' + data.title + ' ' + data.price.toFixed(2) + '</div>';
  return el;
}
function render273(el, data) {
  el.innerHTML = '<div class="item-273">' + data.title + ' ' + data.price.toFixed(2) + '</div>';
  return el;
}
function render274(el, data) {
  el.innerHTML = '<div class="item-274">' + data.title + ' ' + data.price.toFixed(2) + '</div>';
  return el;
}
function render275(el, data) {
  el.innerHTML = '<div class="item-275">' + data.title + ' ' + data.price.toFixed(2) + '</div>';
  return el;
}
function render276(el, data) {
  el.innerHTML = '<div class="item-276">' + data.title + ' ' + data.price.toFixed(2) + '</div>';
  return el;
}
function render277(el, data) {
  el.innerHTML = '<div class="item-277">' + data.title + ' ' + data.price.toFixed(2) + '</div>';
  return el;
}
function render278(el, data) {
  el.innerHTML = '<div class="item-278">' + data.title + ' ' + data.price.toFixed(2) + '</div>';
  return el;
}
function render279(el, data) {
  el.innerHTML = '<div class="item-279">' + data.title + ' ' + data.price.toFixed(2) + '</div>';
  return el;
}
function render280(el, data) {
  el.innerHTML = '<div class="item-280">' + data.title + ' ' + data.price.toFixed(2) + '</div>';
  return el;
}
function render281(el, data) {
  el.innerHTML = '<div class="item-281">' + data.title + ' ' + data.price.toFixed(2) + '</div>';
  return el;
}
function render282(el, data) {
  el.innerHTML = '<div class="item-282">' + data.title + ' ' + data.price.toFixed(2) + '</div>';
  return el;
}
function render283(el, data) {
  el.innerHTML = '<div class="item-283">' + data.title + ' ' + data.price.toFixed(2) + '</div>';
  return el;
}
function render284(el, data) {
  el.innerHTML = '<div class="item-284">' + data.title + ' ' + data.price.toFixed(2) + '</div>';
  return el;
}
function render285(el, data) {
  el.innerHTML = '<div class="item-285">' + data.title + ' ' + data.price.toFixed(2) + '</div>';
  return el;
}
function render286(el, data) {
  el.innerHTML = '<div class="item-286">' + data.title + ' ' + data.price.toFixed(2) + '</div>';
  return el;
}
function render287(el, data) {
  el.innerHTML = '<div class="item-287">' + data.title + ' ' + data.price.toFixed(2) + '</div>';
  return el;
}
function render288(el, data) {
  el.innerHTML = '<div class="item-288">' + data.title + ' ' + data.price.toFixed(2) + '</div>';
  return el;
}
function render289(el, data) {
  el.innerHTML = '<div class="item-289">' + data.title + ' ' + data.price.toFixed(2) + '</div>';
  return el;
}
function render290(el, data) {
  el.innerHTML = '<div class="item-290">' + data.title + ' ' + data.price.toFixed(2) + '</div>';
  return el;
}
function render291(el, data) {
  el.innerHTML = '<div class="item-291">' + data.title + ' ' + data.price.toFixed(2) + '</div>';
  return el;
}
function render292(el, data) {
  el.innerHTML = '<div class="item-292">' + data.title + ' ' + data.price.toFixed(2) + '</div>';
  return el;
}
function render293(el, data) {
  el.innerHTML = '<div class="item-293">' + data.title + ' ' + data.price.toFixed(2) + '</div>';
  return el;
}
function render294(el, data) {
  el.innerHTML = '<div class="item-294">' + data.title + ' ' + data.price.toFixed(2) + '</div>';
  return el;
}
function render295(el, data) {
  el.innerHTML = '<div class="item-295">' + data.title + ' ' + data.price.toFixed(2) + '</div>';
  return el;
}
function render296(el, data) {
  el.innerHTML = '<div class="item-296">' + data.title + ' ' + data.price.toFixed(2) + '</div>';
  return el;
}
function render297(el, data) {
  el.innerHTML = '<div class="item-297">' + data.title + ' ' + data.price.toFixed(2) + '</div>';
  return el;
}
function render298(el, data) {
  el.innerHTML = '<div class="item-298">' + data.title + ' ' + data.price.toFixed(2) + '</div>';
  return el;
}
function render299(el, data) {
  el.innerHTML = '<div class="item-299">' + data.title + ' ' + data.price.toFixed(2) + '</div>';
  return el;
}
function renderCheckout(el) {
  el.innerHTML = '<button>Pay with Strata Mall checkout</button>';
  return el;
}

