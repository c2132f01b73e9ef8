--- @include "includes/nope"
return 1
