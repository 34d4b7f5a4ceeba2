# bash completion for megafs(1): commands, channel subcommands, options,
# and file or directory names where an option or argument takes one.
# tests/integration/install.sh checks that every option `megafs help
# COMMAND` lists is offered here.

_megafs()
{
	local cur prev words cword
	_init_completion || return

	local commands="init channel id ingest extract status fsck gc mount umount tracker serve fetch dht help version"
	local common="--store --password-file --protect-file --protect --new-password-file"
	local net="--tracker --listen --peer --bootstrap --proxy --dht --dht-bootstrap --dht-interval --dht-port
		   --transport --tls-cert --tls-key --tls-sni --pt --mode"
	local cmd="" sub="" i

	for ((i = 1; i < cword; i++)); do
		case ${words[i]} in
		--store | --password-file | --protect-file | --new-password-file) ((i++)) ;;
		-*) ;;
		*)
			if [[ -z $cmd ]]; then
				cmd=${words[i]}
			elif [[ ($cmd == channel || $cmd == dht) && -z $sub ]]; then
				sub=${words[i]}
			fi
			;;
		esac
	done

	case $prev in
	--store | --db)
		_filedir -d
		return
		;;
	--password-file | --protect-file | --new-password-file | --tls-cert | --tls-key | --bootstrap | -o | --output | --pt)
		[[ $cmd == mount && $prev == -o ]] && return
		_filedir
		return
		;;
	--mode)
		if [[ $cmd == ingest ]]; then
			COMPREPLY=($(compgen -W "convergent random" -- "$cur"))
		else
			COMPREPLY=($(compgen -W "direct obfs tor" -- "$cur"))
		fi
		return
		;;
	--transport)
		COMPREPLY=($(compgen -W "tcp tls obfs4" -- "$cur"))
		return
		;;
	--kdf)
		COMPREPLY=($(compgen -W "interactive moderate sensitive fast" -- "$cur"))
		return
		;;
	--tracker | --listen | --peer | --proxy | --dht-bootstrap | --dht-interval | --dht-port | --tls-sni | --size | --chunk-size | \
		--channel | --expires | --to | --max-* | --idle-timeout | --interval | --range-v4 | --range-v6 | --http-port)
		return
		;;
	esac

	if [[ -z $cmd ]]; then
		COMPREPLY=($(compgen -W "$commands $common" -- "$cur"))
		return
	fi

	local opts=""
	case $cmd in
	init) opts="--size --kdf --hidden" ;;
	channel)
		if [[ -z $sub ]]; then
			COMPREPLY=($(compgen -W "new list subscribe import export show add grant revoke rekey forget bootstrap" -- "$cur"))
			return
		fi
		case $sub in
		new) opts="--public" ;;
		grant) opts="--to --expires" ;;
		revoke) opts="--to" ;;
		import | add) [[ $cur != -* ]] && _filedir ;;
		esac
		;;
	ingest) opts="--mode --chunk-size --channel --global" ;;
	extract) opts="-o --output" ;;
	fsck) opts="--repair --tracker --peer --bootstrap --proxy --dht --dht-bootstrap --dht-interval --dht-port
		    --transport --tls-cert --tls-key --tls-sni --pt --mode" ;;
	mount) opts="-f --foreground -o --options $net" ;;
	umount) [[ $cur != -* ]] && _filedir -d ;;
	tracker)
		opts="--listen --db --max-message --max-subscriptions --max-per-range
		      --max-connections --idle-timeout --range-v4 --range-v6
		      --max-announced-per-range --max-keys --max-bytes --max-keys-per-range
		      --max-bytes-per-range --interval --tls-cert --tls-key --http-port"
		;;
	serve) opts="$net" ;;
	fetch) opts="-o --output $net" ;;
	dht)
		if [[ -z $sub ]]; then
			COMPREPLY=($(compgen -W "status" -- "$cur"))
			return
		fi
		;;
	help)
		COMPREPLY=($(compgen -W "$commands" -- "$cur"))
		return
		;;
	esac
	if [[ $cur == -* ]]; then
		COMPREPLY=($(compgen -W "$opts $common" -- "$cur"))
	elif [[ $cmd == ingest || $cmd == extract || ($cmd == mount && $cword -ge 3) ]]; then
		[[ $cmd == mount ]] && _filedir -d || _filedir
	fi
}
complete -F _megafs megafs
